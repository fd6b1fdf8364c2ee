// NetworkSendStage driven by hand (step() in a loop on the test thread) with
// a real ArcClient talking to an in-process ArcNetwork over loopback, real
// signed jobs, and a fact sink whose durability fence the test moves.
//
// No timed assertions: every wait polls with a generous deadline and only
// fails if the deadline passes.
#include "stages/send/network_send_stage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/chain/hash.h"
#include "engine/chain/publication.h"
#include "engine/flow/channel.h"
#include "stages/send/arc_client.h"
#include "stages/sign/resigner.h"
#include "tests/tools/network/network_test_util.h"
#include "tools/network/arc_network.h"

namespace raregen::send {
namespace {

using namespace std::chrono_literals;
namespace nt = network::test;
using model::FactKind;
using model::FactTicket;
using model::FailCode;

constexpr auto k_deadline = 60s;
constexpr chain::FeeRate k_old_rate{100, 1000};
constexpr chain::FeeRate k_new_rate{500, 1000};

// One recorded fact.
struct Fact {
    FactKind kind;
    model::JobId job_id;
    chain::Hash256 txid;
    FailCode fail;
    std::string text;
    FactTicket ticket;
};

// Records every fact. The test sets the durability fence, which tickets are
// refused, and whether tx_sent facts are accepted (backpressure).
class RecordingSink final : public model::FactSink {
  public:
    FactTicket try_emit(FactKind kind, const model::Job& job, flow::Nanos,
                        std::string_view text) noexcept override {
        std::lock_guard lock(m_mutex);
        if (kind == FactKind::tx_sent && m_refuse_sent) return 0;
        try {
            m_facts.push_back(Fact{kind, job.job_id, job.txid, job.fail, std::string(text), 0});
        } catch (...) {
            return 0;
        }
        m_facts.back().ticket = ++m_next;
        return m_next;
    }
    FactTicket durable_through() const noexcept override {
        std::lock_guard lock(m_mutex);
        return m_durable;
    }
    bool refused(FactTicket t) const noexcept override {
        std::lock_guard lock(m_mutex);
        return m_refused.count(t) != 0;
    }

    void set_durable(FactTicket t) {
        std::lock_guard lock(m_mutex);
        m_durable = t;
    }
    void refuse(FactTicket t) {
        std::lock_guard lock(m_mutex);
        m_refused.insert(t);
    }
    void refuse_sent(bool on) {
        std::lock_guard lock(m_mutex);
        m_refuse_sent = on;
    }
    std::vector<Fact> facts() const {
        std::lock_guard lock(m_mutex);
        return m_facts;
    }
    std::vector<Fact> of(FactKind kind) const {
        std::vector<Fact> out;
        for (const Fact& f : facts())
            if (f.kind == kind) out.push_back(f);
        return out;
    }

  private:
    mutable std::mutex m_mutex;
    std::vector<Fact> m_facts;
    FactTicket m_next = 0;
    FactTicket m_durable = std::numeric_limits<FactTicket>::max();
    std::set<FactTicket> m_refused;
    bool m_refuse_sent = false;
};

model::JobId job_id_of(std::uint32_t n) {
    model::JobId id;
    id.bytes[0] = 0x5a;
    id.bytes[14] = static_cast<std::uint8_t>(n >> 8);
    id.bytes[15] = static_cast<std::uint8_t>(n);
    return id;
}

// A signed job spending `utxo` at `rate`; `n` varies the job id and the
// record hash (so two jobs on one UTXO differ).
model::Job make_job(const nt::Wallet& wallet, const chain::Utxo& utxo, std::uint32_t n,
                    chain::FeeRate rate) {
    model::Job job;
    job.intake_seq = n + 1;
    job.job_id = job_id_of(n);
    job.record_hash[0] = 0xc3;
    job.record_hash[1] = static_cast<std::uint8_t>(n >> 8);
    job.record_hash[2] = static_cast<std::uint8_t>(n);
    job.accepted_at = flow::Nanos{1000};
    job.utxo = utxo;
    const chain::RaregenPayload payload = chain::raregen_payload(job.record_hash);
    const chain::ByteSpan pushes[] = {payload.span()};
    chain::PublicationOptions options;
    options.change = true;
    options.fee_rate = rate;
    chain::PublicationBuilder builder;
    chain::Bytes raw, ef;
    const chain::BuildResult r = builder.build(wallet.key, utxo, pushes, options, raw, &ef);
    EXPECT_TRUE(r.ok()) << chain::build_error_message(r);
    EXPECT_TRUE(job.raw.assign(raw));
    EXPECT_TRUE(job.ef.assign(ef));
    job.txid = r.txid;
    job.signed_ticket = 7;
    return job;
}

std::string display(const chain::Hash256& h) {
    return chain::hash_to_display(h);
}

// 200 if the network holds `txid`, 404 if not.
long network_status(const std::string& url, const chain::Hash256& txid) {
    return nt::get(url + "/v1/tx/" + display(txid)).status;
}

ArcSettings settings_for(const std::string& url) {
    ArcSettings s;
    s.url = url;
    s.batch_max = 8;
    s.linger = 1ms;
    s.max_in_flight = 2;
    s.capacity = 64;
    s.max_timeout_s = 5;
    s.request_timeout = 20s;
    s.max_attempts = 4;
    s.backoff_base = 1ms;
    s.backoff_max = 20ms;
    s.policy_refresh = 600s;
    return s;
}

// The stage, its input and a manual clock.
struct Rig {
    Rig(ArcClient& arc, RecordingSink& sink, sign::Resigner* resigner)
        : input(64), producer(input.make_producer()), stage(input, arc, sink, resigner) {}

    void feed(const std::vector<model::Job>& jobs) {
        for (const model::Job& j : jobs)
            ASSERT_TRUE(input.try_enqueue(producer, j));
    }
    void close() { producer.close(); }

    flow::Step step() {
        now += 1ms;
        return stage.step(now, 16);
    }
    // Steps until `done()` or the deadline; sleeps briefly when the stage
    // has nothing to do, so the client's thread gets the CPU.
    template <class Pred>
    bool step_until(Pred done) {
        const auto end = std::chrono::steady_clock::now() + k_deadline;
        while (!done()) {
            if (std::chrono::steady_clock::now() > end) return false;
            const flow::Step s = step();
            if (s != flow::Step::progressed) std::this_thread::sleep_for(1ms);
        }
        return true;
    }
    bool run_to_end() {
        bool finished = false;
        return step_until([&] {
            if (finished) return true;
            finished = step() == flow::Step::finished;
            return finished;
        });
    }

    flow::Channel<model::Job> input;
    flow::Channel<model::Job>::Producer producer;
    NetworkSendStage stage;
    flow::Nanos now{1'000'000};
};

class NetworkSendStageTest : public ::testing::Test {
  protected:
    void SetUp() override { start_network(nt::test_options()); }

    void start_network(network::NetworkOptions options) {
        options.fee_rate = k_old_rate;
        net = std::make_unique<nt::TestNet>(std::move(options));
    }

    // `n` signed jobs, each on a UTXO of its own, signed at `rate`.
    std::vector<model::Job> signed_jobs(std::uint32_t n, chain::FeeRate rate = k_old_rate) {
        const std::vector<chain::Utxo> utxos =
            nt::fund(net->url, wallet, 20'000, static_cast<int>(n));
        std::vector<model::Job> jobs;
        for (std::uint32_t i = 0; i < n && i < utxos.size(); ++i)
            jobs.push_back(make_job(wallet, utxos[i], i, rate));
        EXPECT_EQ(jobs.size(), n);
        return jobs;
    }

    std::unique_ptr<ArcClient> client(ArcSettings s) {
        auto c = std::make_unique<ArcClient>(std::move(s));
        EXPECT_EQ(c->start(nullptr), "");
        return c;
    }

    static std::set<std::string> ids_of(const std::vector<Fact>& facts) {
        std::set<std::string> out;
        for (const Fact& f : facts)
            out.insert(f.job_id.to_string());
        return out;
    }
    static std::set<std::string> ids_of(const std::vector<model::Job>& jobs) {
        std::set<std::string> out;
        for (const model::Job& j : jobs)
            out.insert(j.job_id.to_string());
        return out;
    }

    std::unique_ptr<nt::TestNet> net;
    nt::Wallet wallet;
    RecordingSink sink;
};

TEST_F(NetworkSendStageTest, AllAcceptedAreSentOnceAndTheStageFinishes) {
    constexpr std::uint32_t k_n = 12;
    const std::vector<model::Job> jobs = signed_jobs(k_n);
    auto arc = client(settings_for(net->url));
    Rig rig(*arc, sink, nullptr);
    rig.feed(jobs);
    rig.close();
    ASSERT_TRUE(rig.run_to_end());

    const std::vector<Fact> sent = sink.of(FactKind::tx_sent);
    ASSERT_EQ(sent.size(), k_n);
    EXPECT_EQ(ids_of(sent), ids_of(jobs));
    EXPECT_EQ(sink.facts().size(), k_n);  // nothing but tx_sent
    for (const model::Job& j : jobs) {
        const auto it = std::find_if(sent.begin(), sent.end(),
                                     [&](const Fact& f) { return f.job_id == j.job_id; });
        ASSERT_NE(it, sent.end());
        EXPECT_EQ(it->txid, j.txid);
        EXPECT_EQ(network_status(net->url, j.txid), 200);
    }
    EXPECT_EQ(rig.stage.submitted(), k_n);
    EXPECT_EQ(rig.stage.sent(), k_n);
    EXPECT_EQ(rig.stage.failed(), 0u);
    EXPECT_EQ(rig.stage.unresolved(), 0u);
    EXPECT_EQ(rig.stage.latency().count(), k_n);
    EXPECT_EQ(arc->outstanding(), 0u);
    EXPECT_EQ(rig.step(), flow::Step::finished);
}

TEST_F(NetworkSendStageTest, FeeRaisedResignsOnTheSameUtxoAndSendsOnlyOnceDurable) {
    constexpr std::uint32_t k_n = 4;
    const std::vector<model::Job> jobs = signed_jobs(k_n, k_old_rate);
    auto arc = client(settings_for(net->url));
    net->net->set_fee_rate(k_new_rate);
    chain::PublicationOptions options;
    options.change = true;
    sign::Resigner resigner(wallet.key, options);
    sink.set_durable(0);  // nothing durable until the test says so

    Rig rig(*arc, sink, &resigner);
    rig.feed(jobs);
    rig.close();
    ASSERT_TRUE(rig.step_until([&] { return sink.of(FactKind::tx_resigned).size() == k_n; }));
    const std::vector<Fact> resigned = sink.of(FactKind::tx_resigned);
    EXPECT_EQ(rig.stage.resigned(), k_n);
    EXPECT_EQ(arc->fee_rate().satoshis, k_new_rate.satoshis);
    std::set<std::string> new_txids;
    for (const Fact& f : resigned) {
        const auto it = std::find_if(jobs.begin(), jobs.end(),
                                     [&](const model::Job& j) { return j.job_id == f.job_id; });
        ASSERT_NE(it, jobs.end());
        EXPECT_NE(f.txid, it->txid) << "a re-signed job needs a new transaction";
        new_txids.insert(display(f.txid));
    }
    EXPECT_EQ(new_txids.size(), k_n);

    // Held: many steps later, the network has seen neither the old nor the
    // new transactions, and the stage has not finished.
    for (int i = 0; i < 200; ++i) {
        EXPECT_NE(rig.step(), flow::Step::finished);
        std::this_thread::sleep_for(1ms);
    }
    for (const Fact& f : resigned)
        EXPECT_EQ(network_status(net->url, f.txid), 404) << "sent before its fact was durable";
    for (const model::Job& j : jobs)
        EXPECT_EQ(network_status(net->url, j.txid), 404);
    EXPECT_TRUE(sink.of(FactKind::tx_sent).empty());

    sink.set_durable(resigned.back().ticket);
    ASSERT_TRUE(rig.run_to_end());
    const std::vector<Fact> sent = sink.of(FactKind::tx_sent);
    ASSERT_EQ(sent.size(), k_n);
    for (const Fact& f : sent) {
        const auto it = std::find_if(resigned.begin(), resigned.end(),
                                     [&](const Fact& r) { return r.job_id == f.job_id; });
        ASSERT_NE(it, resigned.end());
        EXPECT_EQ(f.txid, it->txid) << "tx_sent must name the re-signed transaction";
        EXPECT_EQ(network_status(net->url, f.txid), 200);
    }
    EXPECT_EQ(rig.stage.resigned(), k_n);
    EXPECT_EQ(rig.stage.sent(), k_n);
    EXPECT_EQ(rig.stage.failed(), 0u);
    EXPECT_TRUE(sink.of(FactKind::job_failed).empty());
}

TEST_F(NetworkSendStageTest, RefusedResignFailsTheJobAndSendsNothing) {
    constexpr std::uint32_t k_n = 3;
    const std::vector<model::Job> jobs = signed_jobs(k_n, k_old_rate);
    auto arc = client(settings_for(net->url));
    net->net->set_fee_rate(k_new_rate);
    chain::PublicationOptions options;
    options.change = true;
    sign::Resigner resigner(wallet.key, options);
    sink.set_durable(0);

    Rig rig(*arc, sink, &resigner);
    rig.feed(jobs);
    rig.close();
    ASSERT_TRUE(rig.step_until([&] { return sink.of(FactKind::tx_resigned).size() == k_n; }));
    const std::vector<Fact> resigned = sink.of(FactKind::tx_resigned);
    for (const Fact& f : resigned)
        sink.refuse(f.ticket);
    sink.set_durable(resigned.back().ticket);
    ASSERT_TRUE(rig.run_to_end());

    const std::vector<Fact> failed = sink.of(FactKind::job_failed);
    ASSERT_EQ(failed.size(), k_n);
    EXPECT_EQ(ids_of(failed), ids_of(jobs));
    for (const Fact& f : failed)
        EXPECT_EQ(f.fail, FailCode::storage_refused);
    EXPECT_TRUE(sink.of(FactKind::tx_sent).empty());
    for (const Fact& f : resigned)
        EXPECT_EQ(network_status(net->url, f.txid), 404);
    for (const model::Job& j : jobs)
        EXPECT_EQ(network_status(net->url, j.txid), 404);
    EXPECT_EQ(rig.stage.failed(), k_n);
    EXPECT_EQ(rig.stage.sent(), 0u);
    EXPECT_EQ(arc->outstanding(), 0u);
}

TEST_F(NetworkSendStageTest, FeeRaisedWithoutResignerFailsWith465) {
    constexpr std::uint32_t k_n = 3;
    const std::vector<model::Job> jobs = signed_jobs(k_n, k_old_rate);
    auto arc = client(settings_for(net->url));
    net->net->set_fee_rate(k_new_rate);

    Rig rig(*arc, sink, nullptr);
    rig.feed(jobs);
    rig.close();
    ASSERT_TRUE(rig.run_to_end());
    const std::vector<Fact> failed = sink.of(FactKind::job_failed);
    ASSERT_EQ(failed.size(), k_n);
    EXPECT_EQ(ids_of(failed), ids_of(jobs));
    for (const Fact& f : failed) {
        EXPECT_EQ(f.fail, FailCode::network_rejected);
        EXPECT_NE(f.text.find("465"), std::string::npos) << f.text;
    }
    EXPECT_TRUE(sink.of(FactKind::tx_sent).empty());
    EXPECT_TRUE(sink.of(FactKind::tx_resigned).empty());
    EXPECT_EQ(rig.stage.resigned(), 0u);
    EXPECT_EQ(rig.stage.failed(), k_n);
}

TEST_F(NetworkSendStageTest, RejectedFailsAsNetworkRejected) {
    network::NetworkOptions o = nt::test_options();
    o.faults.reject_share = 1.0;
    start_network(o);
    constexpr std::uint32_t k_n = 4;
    const std::vector<model::Job> jobs = signed_jobs(k_n);
    auto arc = client(settings_for(net->url));

    Rig rig(*arc, sink, nullptr);
    rig.feed(jobs);
    rig.close();
    ASSERT_TRUE(rig.run_to_end());
    const std::vector<Fact> failed = sink.of(FactKind::job_failed);
    ASSERT_EQ(failed.size(), k_n);
    EXPECT_EQ(ids_of(failed), ids_of(jobs));
    for (const Fact& f : failed) {
        EXPECT_EQ(f.fail, FailCode::network_rejected);
        EXPECT_NE(f.text.find("REJECTED"), std::string::npos) << f.text;
    }
    EXPECT_TRUE(sink.of(FactKind::tx_sent).empty());
    EXPECT_EQ(rig.stage.failed(), k_n);
}

TEST_F(NetworkSendStageTest, DoubleSpendSendsOneAndFailsTheOther) {
    const std::vector<chain::Utxo> utxos = nt::fund(net->url, wallet, 20'000, 1);
    ASSERT_EQ(utxos.size(), 1u);
    const std::vector<model::Job> jobs = {make_job(wallet, utxos[0], 1, k_old_rate),
                                          make_job(wallet, utxos[0], 2, k_old_rate)};
    ASSERT_NE(jobs[0].txid, jobs[1].txid);
    auto arc = client(settings_for(net->url));

    Rig rig(*arc, sink, nullptr);
    rig.feed(jobs);
    rig.close();
    ASSERT_TRUE(rig.run_to_end());
    const std::vector<Fact> sent = sink.of(FactKind::tx_sent);
    const std::vector<Fact> failed = sink.of(FactKind::job_failed);
    ASSERT_EQ(sent.size(), 1u);
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_NE(sent[0].job_id, failed[0].job_id);
    EXPECT_EQ(failed[0].fail, FailCode::double_spend) << failed[0].text;
    EXPECT_EQ(network_status(net->url, sent[0].txid), 200);
    EXPECT_EQ(rig.stage.sent(), 1u);
    EXPECT_EQ(rig.stage.failed(), 1u);
}

TEST_F(NetworkSendStageTest, UnresolvedJobsEmitNothingAndTheStageFinishes) {
    constexpr std::uint32_t k_n = 5;
    const std::vector<model::Job> jobs = signed_jobs(k_n);
    ArcSettings s = settings_for(net->url);
    s.max_attempts = 2;
    s.request_timeout = 5s;
    auto arc = client(s);
    net->net->stop();  // nothing listens on the port any more

    Rig rig(*arc, sink, nullptr);
    rig.feed(jobs);
    rig.close();
    ASSERT_TRUE(rig.run_to_end());
    EXPECT_EQ(rig.stage.unresolved(), k_n);
    EXPECT_EQ(rig.stage.submitted(), k_n);
    EXPECT_EQ(rig.stage.sent(), 0u);
    EXPECT_EQ(rig.stage.failed(), 0u);
    EXPECT_TRUE(sink.facts().empty());
    EXPECT_EQ(arc->outstanding(), 0u);
    EXPECT_EQ(arc->stats().unresolved, k_n);
}

TEST_F(NetworkSendStageTest, FullSinkBlocksThenEveryOutcomeIsEmittedOnce) {
    constexpr std::uint32_t k_n = 10;
    const std::vector<model::Job> jobs = signed_jobs(k_n);
    auto arc = client(settings_for(net->url));
    sink.refuse_sent(true);

    Rig rig(*arc, sink, nullptr);
    rig.feed(jobs);
    rig.close();
    // Every job gets its outcome from the network; none can be recorded.
    ASSERT_TRUE(rig.step_until([&] { return arc->stats().sent == k_n; }));
    for (int i = 0; i < 20; ++i)
        EXPECT_EQ(rig.step(), flow::Step::blocked);
    EXPECT_TRUE(sink.facts().empty());
    EXPECT_EQ(rig.stage.sent(), 0u);
    EXPECT_GT(arc->outstanding(), 0u);

    sink.refuse_sent(false);
    ASSERT_TRUE(rig.run_to_end());
    const std::vector<Fact> sent = sink.of(FactKind::tx_sent);
    ASSERT_EQ(sent.size(), k_n);
    EXPECT_EQ(ids_of(sent), ids_of(jobs));  // each job exactly once (k_n facts, k_n ids)
    EXPECT_EQ(sink.facts().size(), k_n);
    EXPECT_EQ(rig.stage.sent(), k_n);
    EXPECT_EQ(rig.stage.latency().count(), k_n);
    EXPECT_EQ(arc->outstanding(), 0u);
}

}  // namespace
}  // namespace raregen::send
