// `raregen serve`, the real binary, with a real PostgreSQL 15 and clients
// over real HTTP on loopback:
//  - SIGTERM while concurrent clients submit: exit 0, every intent answered
//    202 is published (its job `sent`, its record in exactly one transaction
//    of the sink), nothing is left queued;
//  - SIGKILL at random moments (10 times) while concurrent clients submit,
//    each restart adopting what the killed one left, the clients retrying
//    every intent that got no answer: in the end every intent is answered
//    (202, or 200 with its job for a retry of one already accepted) and
//    every record is published exactly once; the exactly-once audit holds;
//  - the database stopped mid-load: 503s, never a 202, until it is back;
//  - GET /health with ARC (the local network): 200 while it answers, 503
//    naming it unreachable once it is gone;
//  - the replenisher out of funding: health degraded, saying why, accepted
//    jobs wait; funding added while it runs is split and they go out.
// The random moments come from a seeded PRNG printed on failure
// (RAREGEN_CRASH_SEED replays one).

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/publication.h"
#include "engine/chain/tx.h"
#include "storage/jobs/audit.h"
#include "storage/pg/migrations.h"
#include "tests/storage/pg/pg_test_env.h"
#include "tests/tools/raregen/cli_runner.h"
#include "tests/tools/raregen/local_network.h"

namespace raregen::test {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

// What the clients were told about one intent.
struct Told {
    int status = 0;  // 0: no answer yet (or only 503s / transport errors)
    std::string job_id;
    std::string hash;
};

// Each record hash in the sink and the txids that publish it; every line
// handed over, for the audit.
struct Sink {
    std::map<std::string, std::set<std::string>> txids_by_record;
    std::vector<jobs::HandedOver> handed;
    std::size_t unparseable = 0;
};

Sink read_sink(const std::string& path) {
    Sink s;
    std::ifstream in(path);
    std::string line;
    std::set<std::string> seen;
    while (std::getline(in, line)) {
        if (!seen.insert(line).second) continue;  // an identical resend after a restart
        const auto bytes = chain::from_hex(line);
        chain::Transaction tx;
        if (!bytes || !chain::parse_transaction(*bytes, tx).ok()) {
            ++s.unparseable;
            continue;
        }
        const auto record = chain::published_record_hash(tx);
        if (!record) {
            ++s.unparseable;
            continue;
        }
        const chain::Hash256 id = chain::compute_txid(tx);
        s.txids_by_record[chain::to_hex(*record)].insert(
            chain::to_hex_reversed(chain::ByteSpan(id.data(), 32)));
        s.handed.push_back(*jobs::handed_over(*bytes));
    }
    return s;
}

class Serve : public pg::testing::PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        m_db = fresh_database();
        pg::Connection c = connect(m_db);
        ASSERT_TRUE(pg::migrate(c).ok());
        const char* s = std::getenv("RAREGEN_CRASH_SEED");
        m_seed = s ? std::strtoull(s, nullptr, 10) : std::random_device{}();
        m_rng.seed(m_seed);
    }

    void make_inputs(int intents) {
        ASSERT_EQ(
            run_cli({"keys", "generate", "--testnet", "--out", m_dir.path("key.wif")}).exit_code,
            0);
        ASSERT_EQ(run_cli({"gen", "utxos", std::to_string(intents + 200), "--key-file",
                           m_dir.path("key.wif"), "--out", m_dir.path("utxos.txt"), "--force"})
                      .exit_code,
                  0);
        ASSERT_EQ(run_cli({"gen", "intents", std::to_string(intents), "--signers", "4", "--out",
                           m_dir.path("intents.ndjson"), "--registered",
                           m_dir.path("registered.txt"), "--force"})
                      .exit_code,
                  0);
        std::ifstream in(m_dir.path("intents.ndjson"));
        std::string line;
        while (std::getline(in, line))
            if (!line.empty()) m_intents.push_back(line);
        ASSERT_EQ(m_intents.size(), static_cast<std::size_t>(intents));
        m_told.assign(m_intents.size(), Told{});
    }

    // Starts `raregen serve` on a free port; returns its pid and sets m_port
    // (0 if it never said it listens).
    // `sink`: where transactions go (default: the file tx.ef).
    // `with_utxos` false: no UTXO file is imported (the pool starts empty).
    pid_t start_serve(const std::string& name, const std::string& durable_wait_ms = "10000",
                      std::vector<std::string> sink = {}, bool with_utxos = true) {
        const std::string log = m_dir.path(name);
        if (sink.empty()) sink = {"--out", m_dir.path("tx.ef")};
        std::vector<std::string> args{"serve",
                                      "--durable-wait-ms",
                                      durable_wait_ms,
                                      "--listen",
                                      "127.0.0.1:0",
                                      "--utxos",
                                      m_dir.path("utxos.txt"),
                                      "--key-file",
                                      m_dir.path("key.wif"),
                                      "--registered",
                                      m_dir.path("registered.txt"),
                                      "--rate",
                                      "1000",
                                      "--period-ms",
                                      "1000",
                                      "--window-ms",
                                      "200",
                                      "--batch-size",
                                      "100",
                                      "--progress",
                                      "0",
                                      "--lease-s",
                                      "3600",
                                      "--http-threads",
                                      "32"};
        args.insert(args.end(), sink.begin(), sink.end());
        if (!with_utxos) args.erase(args.begin() + 5, args.begin() + 7);  // --utxos FILE
        const pid_t pid = spawn_cli(args, m_db, log);
        m_port = 0;
        const auto give_up = std::chrono::steady_clock::now() + 60s;
        const std::string marker = "API listening on http://127.0.0.1:";
        while (m_port == 0 && std::chrono::steady_clock::now() < give_up) {
            const std::string err = read_file(log + ".err");
            if (const auto at = err.find(marker); at != std::string::npos)
                m_port = std::atoi(err.c_str() + at + marker.size());
            else
                std::this_thread::sleep_for(20ms);
        }
        EXPECT_NE(m_port, 0) << read_file(log + ".err");
        return pid;
    }

    // `threads` clients submit every intent not answered yet, until each is
    // answered or `stop` is set. A 503 or a transport error leaves the
    // intent unanswered (to be retried).
    void run_clients(int threads, const std::atomic<bool>& stop,
                     std::size_t end = std::numeric_limits<std::size_t>::max()) {
        end = std::min(end, m_intents.size());
        std::atomic<std::size_t> next{0};
        std::vector<std::thread> clients;
        for (int t = 0; t < threads; ++t)
            clients.emplace_back([&] {
                httplib::Client cl("127.0.0.1", m_port);
                cl.set_connection_timeout(2, 0);
                cl.set_read_timeout(20, 0);
                int failures_in_a_row = 0;
                for (std::size_t i = next++; i < end && !stop; i = next++) {
                    {
                        std::lock_guard lock(m_mu);
                        if (m_told[i].status != 0) continue;
                    }
                    auto r = cl.Post("/v1/publish", m_intents[i], "application/json");
                    {
                        std::lock_guard lock(m_mu);
                        m_events.emplace_back(std::chrono::steady_clock::now(), r ? r->status : 0);
                    }
                    if (!r || r->status == 503) {
                        if (++failures_in_a_row > 20) return;  // the server is gone
                        continue;
                    }
                    failures_in_a_row = 0;
                    const Json body = Json::parse(r->body, nullptr, false);
                    std::lock_guard lock(m_mu);
                    Told& told = m_told[i];
                    told.status = r->status;
                    if (body.is_object()) {
                        told.job_id = body.value("jobId", "");
                        told.hash = body.value("hash", "");
                    }
                    if (r->status == 202) ++m_accepted;
                    ++m_answers;
                }
            });
        for (auto& c : clients)
            c.join();
    }

    std::size_t unanswered() {
        std::lock_guard lock(m_mu);
        std::size_t n = 0;
        for (const Told& t : m_told)
            n += t.status == 0;
        return n;
    }

    std::string scalar(const std::string& sql) {
        pg::Connection c = connect(m_db);
        pg::Result r = c.exec(sql);
        EXPECT_TRUE(r.ok()) << r.error();
        return r.ok() && r.rows() > 0 ? std::string(r.text(0, 0)) : std::string();
    }

    // Waits until every job in the database is sent (or a minute passes).
    void wait_all_sent() {
        const auto give_up = std::chrono::steady_clock::now() + 60s;
        while (scalar("SELECT count(*) FROM publish_jobs WHERE status <> 'sent'") != "0" &&
               std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(100ms);
    }

    // Every answered intent's record published exactly once, under the job
    // the client was told; the audit over every table.
    void check_published_once(bool all_answered) {
        const Sink sink = read_sink(m_dir.path("tx.ef"));
        EXPECT_EQ(sink.unparseable, 0u);
        std::size_t answered = 0;
        for (std::size_t i = 0; i < m_told.size(); ++i) {
            const Told& t = m_told[i];
            if (all_answered) {
                EXPECT_TRUE(t.status == 202 || t.status == 200)
                    << "intent " << i << " answered " << t.status << " (seed " << m_seed << ")";
            }
            if (t.status != 202 && t.status != 200) continue;
            ++answered;
            const auto it = sink.txids_by_record.find(t.hash);
            ASSERT_NE(it, sink.txids_by_record.end())
                << "intent " << i << " answered " << t.status << " was not published (seed "
                << m_seed << ")";
            EXPECT_EQ(it->second.size(), 1u) << "record " << t.hash << " published twice";
            EXPECT_EQ(scalar("SELECT job_id || ' ' || status FROM publish_jobs WHERE record_hash "
                             "= '" +
                             t.hash + "'"),
                      t.job_id + " sent")
                << "intent " << i;
        }
        for (const auto& [record, txids] : sink.txids_by_record)
            EXPECT_EQ(txids.size(), 1u) << "record " << record << " published twice";
        EXPECT_EQ(sink.txids_by_record.size(),
                  std::stoul(scalar("SELECT count(*) FROM publish_jobs")));
        EXPECT_GT(answered, 0u);
        pg::Connection c = connect(m_db);
        jobs::ExactlyOnceAudit a;
        ASSERT_TRUE(jobs::audit_exactly_once(c, "", &sink.handed, a).ok());
        EXPECT_TRUE(a.ok()) << a.example << " (seed " << m_seed << ")";
    }

    TempDir m_dir;
    std::string m_db;
    std::uint64_t m_seed = 0;
    std::mt19937_64 m_rng;
    int m_port = 0;
    std::vector<std::string> m_intents;
    std::mutex m_mu;
    std::vector<Told> m_told;
    std::size_t m_accepted = 0;
    std::atomic<std::size_t> m_answers{0};
    // When each answer came, and its status (0: no answer).
    std::vector<std::pair<std::chrono::steady_clock::time_point, int>> m_events;
};

TEST_F(Serve, SigtermUnderLoadExitsZeroAndEveryIntentAnswered202IsPublished) {
    ASSERT_NO_FATAL_FAILURE(make_inputs(800));
    const pid_t pid = start_serve("serve");
    ASSERT_NE(m_port, 0);
    std::atomic<bool> stop{false};
    std::thread load([&] { run_clients(8, stop); });
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < give_up) {
        {
            std::lock_guard lock(m_mu);
            if (m_accepted >= 200) break;
        }
        std::this_thread::sleep_for(5ms);
    }
    ::kill(pid, SIGTERM);
    load.join();
    const int code = wait_cli(pid);
    const std::string err = read_file(m_dir.path("serve.err"));
    ASSERT_EQ(code, 0) << err;
    EXPECT_EQ(err.find("Sanitizer"), std::string::npos) << err;
    EXPECT_GE(m_accepted, 200u);
    EXPECT_LT(m_accepted, m_intents.size()) << "the stop came after every intent was in";
    // Nothing accepted was left behind: the drain published it all.
    EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs WHERE status <> 'sent'"), "0");
    EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs"), std::to_string(m_accepted));
    const Json summary = Json::parse(read_file(m_dir.path("serve.out")), nullptr, false);
    ASSERT_TRUE(summary.is_object()) << read_file(m_dir.path("serve.out"));
    EXPECT_EQ(summary["api"]["accepted"], m_accepted);
    check_published_once(/*all_answered=*/false);
}

TEST_F(Serve, SigkillAtRandomMomentsLosesNoAcceptedIntentAndPublishesNoneTwice) {
    ASSERT_NO_FATAL_FAILURE(make_inputs(1200));
    constexpr int k_kills = 10;
    std::uniform_int_distribution<int> any_moment_ms(20, 800);
    std::uniform_int_distribution<std::size_t> after_answers(1, 60);
    int kills = 0;
    int killed_with_work = 0;
    for (int round = 0; round < k_kills; ++round) {
        // Each round offers a new slice of the intents, plus every earlier
        // one still unanswered (the clients' retries).
        const std::size_t end = m_intents.size() * (round + 1) / (k_kills + 2);
        const pid_t pid = start_serve("serve-" + std::to_string(round));
        ASSERT_NE(m_port, 0);
        const std::size_t answers_before = m_answers;
        std::atomic<bool> stop{false};
        std::thread load([&] { run_clients(6, stop, end); });
        if (round % 2 == 0) {
            // Any moment after it listens.
            std::this_thread::sleep_for(std::chrono::milliseconds(any_moment_ms(m_rng)));
        } else {
            // While intents come in: after a random number of answers.
            const std::size_t target = answers_before + after_answers(m_rng);
            const auto give_up = std::chrono::steady_clock::now() + 30s;
            while (m_answers < target && std::chrono::steady_clock::now() < give_up)
                std::this_thread::sleep_for(1ms);
        }
        ::kill(pid, SIGKILL);
        stop = true;
        load.join();
        EXPECT_EQ(wait_cli(pid), 128 + SIGKILL);
        ++kills;
        if (m_answers > answers_before) ++killed_with_work;
    }
    EXPECT_EQ(kills, k_kills);
    EXPECT_GE(killed_with_work, k_kills / 2) << "seed " << m_seed;

    // The last instance: the clients retry whatever got no answer.
    const pid_t pid = start_serve("serve-final");
    ASSERT_NE(m_port, 0);
    std::atomic<bool> stop{false};
    for (int pass = 0; pass < 5 && unanswered() > 0; ++pass)
        run_clients(6, stop);
    EXPECT_EQ(unanswered(), 0u);
    wait_all_sent();
    ::kill(pid, SIGTERM);
    const int code = wait_cli(pid);
    ASSERT_EQ(code, 0) << read_file(m_dir.path("serve-final.err"));
    EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs"), std::to_string(m_intents.size()));
    check_published_once(/*all_answered=*/true);
    std::size_t existing = 0;
    for (const Told& t : m_told)
        existing += t.status == 200;
    std::printf(
        "[ serve    ] %d kills (%d while intents came in), %zu answered 202, %zu answered "
        "200 with the job of an earlier attempt (seed %llu)\n",
        kills, killed_with_work, m_accepted, existing, static_cast<unsigned long long>(m_seed));
}

TEST_F(Serve, DatabaseStoppedMidLoadGivesNo202UntilItIsBackAndLosesNothing) {
    ASSERT_NO_FATAL_FAILURE(make_inputs(600));
    const pid_t pid = start_serve("serve", "1000");
    ASSERT_NE(m_port, 0);
    std::atomic<bool> stop{false};
    std::thread load([&] {
        // Until every intent is answered: 503s and lost answers are retried.
        // Bounded: a server that died must fail the test, not hang it.
        const auto load_until = std::chrono::steady_clock::now() + 240s;
        while (!stop && unanswered() > 0 && std::chrono::steady_clock::now() < load_until)
            run_clients(8, stop);
    });
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < give_up) {
        {
            std::lock_guard lock(m_mu);
            if (m_accepted >= 150) break;
        }
        std::this_thread::sleep_for(5ms);
    }
    m_pg->stop_server();  // every connection drops
    const auto stopped = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(4000ms);
    const auto restarting = std::chrono::steady_clock::now();
    m_pg->restart_server();  // returns once it takes connections
    const auto back = std::chrono::steady_clock::now();
    load.join();
    EXPECT_EQ(unanswered(), 0u);
    wait_all_sent();
    ::kill(pid, SIGTERM);
    const int code = wait_cli(pid);
    const std::string err = read_file(m_dir.path("serve.err"));
    ASSERT_EQ(code, 0) << err;

    // While it was away (after a grace for answers already on their way):
    // refusals with 503, never a 202.
    std::size_t refused_while_away = 0, accepted_while_away = 0;
    for (const auto& [at, status] : m_events) {
        if (at < stopped + 1500ms || at >= restarting) continue;
        refused_while_away += status == 503;
        accepted_while_away += status == 202 || status == 200;
    }
    EXPECT_EQ(accepted_while_away, 0u);
    EXPECT_GT(refused_while_away, 0u);
    double back_after_s = -1;
    for (const auto& [at, status] : m_events)
        if (at >= back && (status == 202 || status == 200)) {
            back_after_s = std::chrono::duration<double>(at - back).count();
            break;
        }
    std::printf(
        "[ serve    ] database away 4 s: %zu answers 503 meanwhile, none 202; the first "
        "acceptance %.1f s after it took connections again\n",
        refused_while_away, back_after_s);
    EXPECT_GE(back_after_s, 0.0);
    EXPECT_NE(err.find("database"), std::string::npos) << "the outage was not reported: " << err;
    EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs"), std::to_string(m_intents.size()));
    check_published_once(/*all_answered=*/true);
}

TEST_F(Serve, HealthSaysWhetherArcAnswers) {
    ASSERT_NO_FATAL_FAILURE(make_inputs(10));
    auto network = std::make_unique<LocalNetwork>(m_dir, std::vector<std::string>{});
    ASSERT_FALSE(network->url().empty());
    const pid_t pid = start_serve("serve", "10000",
                                  {"--arc-url", network->url(), "--arc-policy-refresh-ms", "200",
                                   "--arc-timeout-ms", "1000"});
    ASSERT_NE(m_port, 0);
    httplib::Client cl("127.0.0.1", m_port);
    cl.set_read_timeout(20, 0);
    auto health = [&] {
        auto r = cl.Get("/health");
        return r ? std::make_pair(r->status, Json::parse(r->body, nullptr, false))
                 : std::make_pair(0, Json());
    };
    auto [status, body] = health();
    EXPECT_EQ(status, 200) << body.dump();
    EXPECT_EQ(body["ok"], true);
    EXPECT_EQ(body["network"]["arc"], true);
    EXPECT_EQ(body["network"]["reachable"], true);
    EXPECT_TRUE(body["network"]["policyAgeSeconds"].is_number()) << body.dump();
    EXPECT_TRUE(body["network"]["feeRate"].is_string()) << body.dump();

    network.reset();  // ARC goes away: its policy reads now fail
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (status == 200 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(100ms);
        std::tie(status, body) = health();
    }
    EXPECT_EQ(status, 503) << body.dump();
    EXPECT_EQ(body["ok"], false);
    EXPECT_EQ(body["network"]["reachable"], false);
    EXPECT_GE(body["network"]["unansweredInARow"].get<int>(), 3);
    EXPECT_EQ(body["database"], "connected");  // only the network is named

    kill(pid, SIGTERM);
    EXPECT_EQ(wait_cli(pid), 0);
}

TEST_F(Serve, FundingExhaustedDegradesHealthAndFundingAddedResumesPublishing) {
    constexpr int k_intents = 60;
    ASSERT_NO_FATAL_FAILURE(make_inputs(k_intents));
    LocalNetwork net(m_dir, {"--block-interval-ms", "0"});
    ASSERT_FALSE(net.url().empty());
    const std::string address =
        run_cli({"keys", "address", "--wif-file", m_dir.path("key.wif")}).json().at("address");
    // Funds the key on the network and imports the output as funding.
    auto add_funding = [&](const std::string& sats) {
        const CliResult fund = run_cli(
            {"network", "fund", "--url", net.url(), "--address", address, "--satoshis", sats});
        ASSERT_EQ(fund.exit_code, 0) << fund.err;
        const Json f = fund.json();
        const std::string from = f.at("txid").get<std::string>() + ":" +
                                 std::to_string(f.at("outputs").at(0).at("vout").get<int>()) + ":" +
                                 sats;
        const CliResult imp = run_cli(CliCall{
            {"utxos", "import", "--purpose", "funding", from}, {}, {{"DATABASE_URL", m_db}}});
        ASSERT_EQ(imp.exit_code, 0) << imp.err;
    };
    ASSERT_NO_FATAL_FAILURE(add_funding("3000"));  // about 26 outputs of 100 sat
    const pid_t pid = start_serve(
        "serve", "10000",
        {"--arc-url", net.url(), "--ring", "8", "--min-pool-size", "50", "--split-batch-size", "50",
         "--split-per-tx", "10", "--pool-check-interval-ms", "200", "--split-cooldown-ms", "0"},
        false);
    ASSERT_NE(m_port, 0);
    std::atomic<bool> stop{false};
    run_clients(4, stop);
    ASSERT_EQ(unanswered(), 0u);
    ASSERT_EQ(m_accepted, static_cast<std::size_t>(k_intents));

    httplib::Client cl("127.0.0.1", m_port);
    cl.set_read_timeout(20, 0);
    auto health = [&] {
        auto r = cl.Get("/health");
        return r ? std::make_pair(r->status, Json::parse(r->body, nullptr, false))
                 : std::make_pair(0, Json());
    };
    // The funding is split and spent; the rest of the jobs wait.
    auto [status, body] = health();
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (!(body.is_object() && body["status"] == "degraded" &&
             scalar("SELECT count(*) FROM publish_jobs WHERE status = 'sent'") ==
                 scalar("SELECT count(*) FROM utxos WHERE purpose = 'publish'")) &&
           std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(100ms);
        std::tie(status, body) = health();
    }
    EXPECT_EQ(status, 200) << body.dump();  // degraded, not down: it still publishes
    EXPECT_EQ(body["status"], "degraded") << body.dump();
    EXPECT_EQ(body["replenisher"]["state"], "funding_exhausted") << body.dump();
    const int sent_before =
        std::stoi(scalar("SELECT count(*) FROM publish_jobs WHERE status = 'sent'"));
    EXPECT_GT(sent_before, 15);
    EXPECT_LT(sent_before, k_intents);
    EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs WHERE status = 'failed'"), "0");
    EXPECT_NE(read_file(m_dir.path("serve.err")).find("funding exhausted"), std::string::npos);

    // Funding added while it runs: split at a later check, the jobs go out.
    ASSERT_NO_FATAL_FAILURE(add_funding("100000"));
    wait_all_sent();
    EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs WHERE status = 'sent'"),
              std::to_string(k_intents));
    const auto give_up2 = std::chrono::steady_clock::now() + 30s;
    while (!(body.is_object() && body["status"] == "ok") &&
           std::chrono::steady_clock::now() < give_up2) {
        std::this_thread::sleep_for(100ms);
        std::tie(status, body) = health();
    }
    EXPECT_EQ(body["status"], "ok") << body.dump();
    EXPECT_EQ(body["replenisher"]["state"], "ok") << body.dump();
    kill(pid, SIGTERM);
    EXPECT_EQ(wait_cli(pid), 0) << read_file(m_dir.path("serve.err"));
    // Each record once on the network, each spent output once.
    const AcceptedSet a = accepted_publications(net);
    EXPECT_EQ(a.publications, static_cast<std::size_t>(k_intents));
    for (const auto& [outpoint, txids] : a.txids_by_outpoint)
        EXPECT_EQ(txids.size(), 1u) << outpoint;
    for (const auto& [record, txids] : a.txids_by_record)
        EXPECT_EQ(txids.size(), 1u) << record;
}

TEST_F(Serve, OperatorEndpointsNeedATokenFileAndListenOnTheirOwnAddress) {
    ASSERT_NO_FATAL_FAILURE(make_inputs(10));
    const CliResult refused = run_cli(CliCall{{"serve", "--admin-listen", "127.0.0.1:0", "--listen",
                                               "127.0.0.1:0", "--key-file", m_dir.path("key.wif")},
                                              {},
                                              {{"DATABASE_URL", m_db}}});
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_NE(refused.err.find("--admin-token-file"), std::string::npos) << refused.err;

    const std::string token = "admin-secret-9d2e71";
    write_file(m_dir.path("admin.token"), token + "\n", 0600);
    const pid_t pid = start_serve("serve", "10000",
                                  {"--out", m_dir.path("tx.ef"), "--admin-token-file",
                                   m_dir.path("admin.token"), "--admin-listen", "127.0.0.1:0"});
    ASSERT_NE(m_port, 0);
    const std::string err = read_file(m_dir.path("serve.err"));
    const std::string marker = "operator endpoints on http://127.0.0.1:";
    const auto at = err.find(marker);
    ASSERT_NE(at, std::string::npos) << err;
    const int admin_port = std::atoi(err.c_str() + at + marker.size());
    ASSERT_NE(admin_port, 0);
    EXPECT_NE(admin_port, m_port);
    httplib::Client ac("127.0.0.1", admin_port);
    auto r = ac.Get("/admin/signers");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    r = ac.Get("/admin/signers", {{"Authorization", "Bearer " + token}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(Json::parse(r->body)["signers"].size(), 4u);  // make_inputs' --signers 4
    kill(pid, SIGTERM);
    EXPECT_EQ(wait_cli(pid), 0);
    EXPECT_EQ(read_file(m_dir.path("serve.err")).find(token), std::string::npos);
    EXPECT_EQ(read_file(m_dir.path("serve.out")).find(token), std::string::npos);
}

}  // namespace
}  // namespace raregen::test
