// `raregen run` with a database, killed with SIGKILL at random moments and
// restarted until every job is done; then the exactly-once checks of the
// storage issue, against the database and against every transaction the
// runs handed to their sink (the --out file, appended to and written
// through). Also: the same with the database server itself stopped and
// restarted mid-run, and two engines on one database at once. And the
// SIGKILL test again with the network in the loop: `raregen run --arc-url`
// against the local ARC-compatible network (`raregen network serve`, a child
// of the test), its accepted set checked instead of a file.
//
// Real parts only: the built binary, a real PostgreSQL 15 (the embedded test
// cluster), the local network over HTTP, SIGKILL. The random moments come
// from a seeded PRNG printed on failure (RAREGEN_CRASH_SEED replays one).

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
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

constexpr int k_crash_jobs = 2000;
constexpr int k_crash_kills = 20;

struct SinkView {
    std::size_t lines = 0;              // file lines, or transactions the network lists
    std::size_t identical_resends = 0;  // lines repeating an earlier line byte for byte
    std::size_t publications = 0;       // distinct transactions carrying a record hash
    std::map<std::string, std::set<std::string>> txids_by_record;  // record hash -> txids
    std::map<std::string, std::set<std::string>> txids_by_outpoint;
    std::set<std::string> txids;           // of the publications
    std::vector<jobs::HandedOver> handed;  // every distinct transaction, for the audit
    std::vector<std::string> problems;
};

// Files `tx` (whose txid is `txid`) under its record hash and its spent
// outpoints. Returns false if it carries no RareGen record hash.
bool add_transaction(SinkView& v, const chain::Transaction& tx, const std::string& txid) {
    for (const auto& in : tx.inputs)
        v.txids_by_outpoint[chain::to_hex_reversed(chain::ByteSpan(in.prevout.txid.data(), 32)) +
                            ":" + std::to_string(in.prevout.vout)]
            .insert(txid);
    const auto record = chain::published_record_hash(tx);
    if (!record) return false;
    v.txids_by_record[chain::to_hex(*record)].insert(txid);
    ++v.publications;
    v.txids.insert(txid);
    return true;
}

std::string txid_of(const chain::Transaction& tx) {
    const chain::Hash256 id = chain::compute_txid(tx);
    return chain::to_hex_reversed(chain::ByteSpan(id.data(), 32));
}

// Parses every line the runs wrote: EF hex, one transaction per line.
SinkView read_sink_view(const std::string& path) {
    SinkView v;
    std::ifstream in(path);
    std::string line;
    std::set<std::string> seen_lines;
    while (std::getline(in, line)) {
        ++v.lines;
        if (!seen_lines.insert(line).second) {
            ++v.identical_resends;
            continue;
        }
        const auto bytes = chain::from_hex(line);
        chain::Transaction tx;
        if (!bytes || !chain::parse_transaction(*bytes, tx).ok() || tx.inputs.size() != 1) {
            v.problems.push_back("unparseable line " + std::to_string(v.lines));
            continue;
        }
        if (!add_transaction(v, tx, txid_of(tx)))
            v.problems.push_back("no record hash in line " + std::to_string(v.lines));
        v.handed.push_back(*jobs::handed_over(*bytes));
    }
    return v;
}

// Every transaction the network accepted (GET /admin/txs: the split
// transactions and the publications; funding ones are not listed).
SinkView read_network(const LocalNetwork& network) {
    SinkView v;
    const nlohmann::json j = network.get("/admin/txs");
    if (!j.is_object() || !j.contains("txs") || !j["txs"].is_array()) {
        v.problems.push_back("GET /admin/txs has no txs array");
        return v;
    }
    for (const nlohmann::json& t : j["txs"]) {
        ++v.lines;
        const std::string listed = t.value("txid", "");
        const auto bytes = chain::from_hex(t.value("rawTx", ""));
        chain::Transaction tx;
        if (!bytes || !chain::parse_transaction(*bytes, tx).ok()) {
            v.problems.push_back("unparseable rawTx of " + listed);
            continue;
        }
        const std::string txid = txid_of(tx);
        if (txid != listed)
            v.problems.push_back("the network lists " + listed + " for a tx whose txid is " + txid);
        add_transaction(v, tx, txid);  // split transactions carry no record: not publications
        v.handed.push_back(*jobs::handed_over(*bytes));
    }
    return v;
}

// Sanitizer and runtime reports in a child's stderr (one EXPECT per marker).
void expect_no_reports(const std::string& what, const std::string& text) {
    for (const char* marker : {"Sanitizer", "runtime error:", "terminate called"})
        EXPECT_EQ(text.find(marker), std::string::npos) << what << ":\n" << text;
}

// Lines in the sink so far: a cheap progress probe (read_sink_view parses them all).
std::size_t count_lines(const std::string& path) {
    std::ifstream in(path);
    return static_cast<std::size_t>(
        std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
}

// What a series of SIGKILLs did.
struct KillTally {
    int kills = 0;
    int killed_sending = 0;  // killed after the run had sent something (progress moved)
    int finished_early = 0;  // runs that ended before their moment came
};

class RunCrash : public pg::testing::PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        m_db = fresh_database();
        pg::Connection c = connect(m_db);
        ASSERT_TRUE(pg::migrate(c).ok());
        ASSERT_EQ(
            run_cli({"keys", "generate", "--testnet", "--out", m_dir.path("key.wif")}).exit_code,
            0);
        ASSERT_NO_FATAL_FAILURE(make_utxos(k_crash_jobs + k_crash_jobs / 2));
        ASSERT_EQ(run_cli({"gen", "intents", std::to_string(k_crash_jobs), "--signers", "4",
                           "--out", m_dir.path("intents.ndjson"), "--registered",
                           m_dir.path("registered.txt"), "--force"})
                      .exit_code,
                  0);
        const char* s = std::getenv("RAREGEN_CRASH_SEED");
        m_seed = s ? std::strtoull(s, nullptr, 10) : std::random_device{}();
        m_rng.seed(m_seed);
    }

    // Writes `count` publish UTXOs of the key to utxos.txt (made up: the
    // file sink checks nothing on a chain).
    virtual void make_utxos(int count) {
        ASSERT_EQ(run_cli({"gen", "utxos", std::to_string(count), "--key-file",
                           m_dir.path("key.wif"), "--out", m_dir.path("utxos.txt"), "--force"})
                      .exit_code,
                  0);
    }
    // Where the runs send: `--out FILE` (two arguments, kept at v[9], v[10]).
    virtual std::vector<std::string> sink_args() const { return {"--out", m_dir.path("tx.ef")}; }
    // How far the runs have got: transactions handed over so far (it only grows).
    virtual std::size_t progress() const { return count_lines(m_dir.path("tx.ef")); }
    // Every transaction the runs handed over.
    virtual SinkView sink_view() const { return read_sink_view(m_dir.path("tx.ef")); }

    std::vector<std::string> run_args(const std::string& rate = "50") const {
        std::vector<std::string> args = {"run",
                                         "--intents",
                                         m_dir.path("intents.ndjson"),
                                         "--utxos",
                                         m_dir.path("utxos.txt"),
                                         "--key-file",
                                         m_dir.path("key.wif"),
                                         "--registered",
                                         m_dir.path("registered.txt")};
        const std::vector<std::string> sink = sink_args();
        args.insert(args.end(), sink.begin(), sink.end());
        // A slow gate, a small ring and small queues: batches stay open for
        // seconds, so kills land in the middle of them.
        for (const char* a :
             {"--rate", rate.c_str(), "--period-ms", "1000", "--batch-size", "100",
              "--channel-capacity", "32", "--ring", "64", "--progress", "0", "--lease-s", "3600"})
            args.emplace_back(a);
        return args;
    }

    // Runs to completion (no kill); returns its exit code.
    int run_to_completion() {
        return wait_cli(spawn_cli(run_args("1000"), m_db, m_dir.path("final")));
    }

    // Starts `raregen run` k_crash_kills times and SIGKILLs each at a random
    // moment: half at any moment after the start (start-up, loading,
    // recovery), half while the run is sending: a random delay after the
    // run has handed over a new transaction (so a slow, sanitizer-built
    // binary is killed mid-work too, not only during start-up). Then one
    // run to completion, and no sanitizer or runtime report from any run.
    KillTally kill_repeatedly_then_finish() {
        KillTally t;
        std::uniform_int_distribution<int> any_moment_ms(50, 1200);
        std::uniform_int_distribution<int> while_sending_ms(0, 600);
        const std::size_t at_start = progress();
        for (int attempt = 0; t.kills < k_crash_kills && attempt < 3 * k_crash_kills; ++attempt) {
            const bool mid_send = attempt % 2 == 1;
            const std::size_t before = progress();
            const pid_t pid = spawn_cli(run_args(), m_db, m_dir.path("killed"));
            int status = 0;
            pid_t done = 0;
            auto alive = [&] { return (done = ::waitpid(pid, &status, WNOHANG)) == 0; };
            if (mid_send) {
                // Wait (bounded) for progress, then a random moment more.
                for (int i = 0; i < 12000 && alive() && progress() == before; ++i)
                    std::this_thread::sleep_for(5ms);
            }
            const auto until = std::chrono::steady_clock::now() +
                               std::chrono::milliseconds(mid_send ? while_sending_ms(m_rng)
                                                                  : any_moment_ms(m_rng));
            while (done == 0 && std::chrono::steady_clock::now() < until && alive())
                std::this_thread::sleep_for(5ms);
            if (done == pid) {
                // The run ended before its moment came: it must have ended well.
                ++t.finished_early;
                EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
                    << read_file(m_dir.path("killed.err"));
                continue;
            }
            if (progress() > before) ++t.killed_sending;
            ::kill(pid, SIGKILL);
            wait_cli(pid);
            ++t.kills;
        }
        EXPECT_EQ(t.kills, k_crash_kills);
        EXPECT_GE(t.killed_sending, k_crash_kills / 2)
            << "too few kills landed while the run was sending";
        const std::size_t handed_over = progress() - at_start;
        EXPECT_GT(handed_over, 0u) << "the killed runs never got to send anything";
        EXPECT_EQ(run_to_completion(), 0) << read_file(m_dir.path("final.err"));
        // The runs share their stderr logs.
        for (const char* log : {"killed.err", "final.err"})
            expect_no_reports(log, read_file(m_dir.path(log)));
        std::printf(
            "[ crash    ] %d SIGKILLs, %d of them while sending (%d runs ended before their "
            "kill); %zu transactions handed over before the final run\n",
            t.kills, t.killed_sending, t.finished_early, handed_over);
        return t;
    }

    // Every exactly-once check of the issue, over the database and what the
    // runs handed over (sink_view()).
    void check_exactly_once() {
        pg::Connection c = connect(m_db);
        auto scalar = [&](const std::string& sql) {
            pg::Result r = c.exec(sql);
            EXPECT_TRUE(r.ok()) << r.error();
            return r.ok() && r.rows() > 0 ? std::string(r.text(0, 0)) : std::string();
        };
        // No accepted job is missing, and every one ended sent with a txid.
        EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs"), std::to_string(k_crash_jobs));
        EXPECT_EQ(scalar("SELECT count(DISTINCT record_id) FROM publish_jobs"),
                  std::to_string(k_crash_jobs));
        EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs WHERE status = 'sent' AND txid IS "
                         "NOT NULL AND signed_tx IS NOT NULL"),
                  std::to_string(k_crash_jobs))
            << scalar(
                   "SELECT string_agg(status || coalesce(':' || error_code, ''), ',') FROM "
                   "publish_jobs WHERE status <> 'sent'");
        EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs WHERE processing_batch_id IS NULL"),
                  "0");
        // The exactly-once audit (storage/jobs/audit.h) over every table,
        // against what was handed over: each record hash in exactly one
        // transaction, the job's own txid (identical bytes sent again are
        // allowed), no UTXO in two transactions, every spent UTXO spent by
        // its job, every batch with its one publish_batches row counting its
        // jobs (whether its engine closed it or died with it open) and
        // batch_seq 1..N.
        const SinkView v = sink_view();
        EXPECT_TRUE(v.problems.empty()) << v.problems.front();
        jobs::ExactlyOnceAudit audit;
        ASSERT_TRUE(jobs::audit_exactly_once(c, "", &v.handed, audit).ok());
        EXPECT_TRUE(audit.ok()) << audit.example;
        EXPECT_EQ(audit.sent, static_cast<std::uint64_t>(k_crash_jobs));
        EXPECT_EQ(audit.matched, static_cast<std::uint64_t>(k_crash_jobs));
        EXPECT_EQ(audit.publications, static_cast<std::uint64_t>(k_crash_jobs));
        EXPECT_GT(audit.batches.batches, 0u);
        std::printf("[ crash    ] handed over: %zu lines, identical resends %zu, seed %llu\n",
                    v.lines, v.identical_resends, static_cast<unsigned long long>(m_seed));
    }

    TempDir m_dir;
    std::string m_db;
    std::uint64_t m_seed = 0;
    std::mt19937_64 m_rng;
};

// The same runs sending to the local network (`run --arc-url`, no --out):
// the key is funded on the network, the publish UTXOs are split from it
// there (`raregen utxos split`), and what was handed over is the network's
// accepted set (GET /admin/txs). The network is a child process, stopped
// (SIGTERM, waited for) with the fixture whatever the outcome.
class RunCrashNetwork : public RunCrash {
  protected:
    void make_utxos(int count) override {
        m_network.emplace(m_dir, std::vector<std::string>{"--block-interval-ms", "500"});
        ASSERT_FALSE(m_network->url().empty());
        ASSERT_TRUE(m_network->fund_and_split(
            m_dir.path("key.wif"), static_cast<std::size_t>(count), m_dir.path("utxos.txt")));
        m_at_start = m_network->get("/admin/stats");
    }
    std::vector<std::string> sink_args() const override { return {"--arc-url", m_network->url()}; }
    // Transactions the network accepted (the split ones included: only the
    // growth matters).
    std::size_t progress() const override { return m_network->accepted_count(); }
    SinkView sink_view() const override { return read_network(*m_network); }

    std::optional<LocalNetwork> m_network;
    nlohmann::json m_at_start;  // its stats once the UTXOs are split
};

TEST_F(RunCrash, SigkillAtRandomMomentsLosesAndDuplicatesNothing) {
    SCOPED_TRACE("RAREGEN_CRASH_SEED=" + std::to_string(m_seed));
    kill_repeatedly_then_finish();
    check_exactly_once();
}

TEST_F(RunCrashNetwork, SigkillAtRandomMomentsTheNetworkAcceptsEachJobOnce) {
    SCOPED_TRACE("RAREGEN_CRASH_SEED=" + std::to_string(m_seed));
    kill_repeatedly_then_finish();
    // The network's accepted set holds each job exactly once.
    check_exactly_once();
    const SinkView v = sink_view();
    const nlohmann::json stats = m_network->get("/admin/stats");
    ASSERT_TRUE(stats.is_object() && m_at_start.is_object());
    const nlohmann::json& txs = stats["txs"];
    // Everything it accepted is listed: the publications and the splits.
    EXPECT_EQ(txs.value("accepted", std::size_t{0}), v.lines) << stats.dump();
    // A UTXO goes into one signed transaction only (design invariant 4): the
    // network never saw a second transaction for an outpoint, nor refused any.
    EXPECT_EQ(txs.value("double_spends", -1), 0) << stats.dump();
    long long rejected = 0;
    for (const auto& [code, n] : txs["rejected"].items())
        rejected += n.get<long long>();
    EXPECT_EQ(rejected, 0) << stats.dump();
    // The final run's view: jobs a killed run left 'sending' are looked up
    // at the network (GET /v1/tx) and re-sent only if it lacks them.
    const nlohmann::json final_run =
        nlohmann::json::parse(read_file(m_dir.path("final.out")), nullptr, false);
    const nlohmann::json arc = final_run.is_object()
                                   ? final_run.value("arc", nlohmann::json::object())
                                   : nlohmann::json::object();
    std::printf(
        "[ network  ] accepted %zu (%zu publications, %zu splits), resubmitted %lld, "
        "transactions received %lld; final run: %lld status checks, %lld posted\n",
        txs.value("accepted", std::size_t{0}), v.publications, v.lines - v.publications,
        txs.value("resubmitted", -1LL) - m_at_start["txs"].value("resubmitted", 0LL),
        txs.value("received", -1LL) - m_at_start["txs"].value("received", 0LL),
        arc.value("status_checks", -1LL), arc.value("txs_posted", -1LL));
    // Stopped here so its exit-time reports (leaks) are in its log.
    m_network.reset();
    expect_no_reports("network serve", read_file(m_dir.path("network.err")));
}

TEST_F(RunCrash, DatabaseStoppedAndStartedMidRunLosesNothing) {
    const pid_t pid = spawn_cli(run_args("400"), m_db, m_dir.path("restart"));
    // Stop the server mid-run: once the run is past start-up and sending.
    for (int i = 0; i < 6000 && count_lines(m_dir.path("tx.ef")) < 200; ++i)
        std::this_thread::sleep_for(10ms);
    ASSERT_GE(count_lines(m_dir.path("tx.ef")), 200u) << read_file(m_dir.path("restart.err"));
    m_pg->stop_server();  // every connection drops; the engine holds its facts and retries
    std::this_thread::sleep_for(2000ms);
    m_pg->restart_server();
    const int rc = wait_cli(pid);
    EXPECT_EQ(rc, 0) << read_file(m_dir.path("restart.err"));
    const std::string err = read_file(m_dir.path("restart.err"));
    EXPECT_NE(err.find("database unreachable"), std::string::npos)
        << "the server stop was not noticed mid-run:\n"
        << err;
    check_exactly_once();
}

TEST_F(RunCrash, TwoEnginesOnOneDatabaseNeverShareAJobOrAUtxo) {
    // Half the intents each, plus rows another process (the RareGen API)
    // queued, which both engines claim from.
    std::ifstream in(m_dir.path("intents.ndjson"));
    std::ofstream a(m_dir.path("a.ndjson")), b(m_dir.path("b.ndjson"));
    std::string line;
    for (int i = 0; std::getline(in, line); ++i)
        (i % 2 == 0 ? a : b) << line << "\n";
    a.close();
    b.close();
    constexpr int k_queued = 400;
    {
        pg::Connection c = connect(m_db);
        pg::Result r = c.exec_params(
            "INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, status) "
            "SELECT gen_random_uuid()::text, 'api-' || i, '{}', "
            "encode(sha256(('api-' || i)::bytea), 'hex'), 'queued' "
            "FROM generate_series(1, $1::int) i",
            k_queued);
        ASSERT_TRUE(r.ok()) << r.error();
    }
    auto args_for = [&](const std::string& who) {
        std::vector<std::string> v = run_args("1000");
        v[2] = m_dir.path(who + ".ndjson");
        v[10] = m_dir.path(who + ".ef");
        return v;
    };
    const pid_t pa = spawn_cli(args_for("a"), m_db, m_dir.path("engine-a"));
    const pid_t pb = spawn_cli(args_for("b"), m_db, m_dir.path("engine-b"));
    EXPECT_EQ(wait_cli(pa), 0) << read_file(m_dir.path("engine-a.err"));
    EXPECT_EQ(wait_cli(pb), 0) << read_file(m_dir.path("engine-b.err"));

    const SinkView va = read_sink_view(m_dir.path("a.ef"));
    const SinkView vb = read_sink_view(m_dir.path("b.ef"));
    EXPECT_TRUE(va.problems.empty() && vb.problems.empty());
    EXPECT_EQ(va.txids.size() + vb.txids.size(), static_cast<std::size_t>(k_crash_jobs + k_queued))
        << "engine a:\n"
        << read_file(m_dir.path("engine-a.out")) << read_file(m_dir.path("engine-a.err"))
        << "engine b:\n"
        << read_file(m_dir.path("engine-b.out")) << read_file(m_dir.path("engine-b.err"));
    for (const auto& [record, txids] : va.txids_by_record)
        EXPECT_EQ(vb.txids_by_record.count(record), 0u) << "record " << record << " sent by both";
    for (const auto& [outpoint, txids] : va.txids_by_outpoint)
        EXPECT_EQ(vb.txids_by_outpoint.count(outpoint), 0u)
            << "UTXO " << outpoint << " used by both";
    pg::Connection c = connect(m_db);
    pg::Result r = c.exec(
        "SELECT count(*), count(DISTINCT txid), count(DISTINCT instance_id), "
        "count(*) FILTER (WHERE record_id LIKE 'api-%') FROM publish_jobs WHERE status = 'sent'");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.text(0, 0), std::to_string(k_crash_jobs + k_queued));
    EXPECT_EQ(r.text(0, 1), std::to_string(k_crash_jobs + k_queued));
    EXPECT_EQ(r.text(0, 2), "2");
    EXPECT_EQ(r.text(0, 3), std::to_string(k_queued));
    // Each engine's file holds exactly the jobs the database says it owned.
    pg::Result owners = c.exec("SELECT instance_id, txid FROM publish_jobs");
    ASSERT_TRUE(owners.ok());
    std::map<std::string, std::set<std::string>> by_owner;
    for (int i = 0; i < owners.rows(); ++i)
        by_owner[std::string(owners.text(i, 0))].insert(std::string(owners.text(i, 1)));
    ASSERT_EQ(by_owner.size(), 2u);
    const std::set<std::string>& first = by_owner.begin()->second;
    const std::set<std::string>& second = std::next(by_owner.begin())->second;
    EXPECT_TRUE((first == va.txids && second == vb.txids) ||
                (first == vb.txids && second == va.txids));
    std::printf("[ engines  ] a sent %zu, b sent %zu, api rows claimed by both together %d\n",
                va.txids.size(), vb.txids.size(), k_queued);
}

}  // namespace
}  // namespace raregen::test
