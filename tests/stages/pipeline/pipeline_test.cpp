// Whole-graph tests: ingest -> sequence -> sign -> gate -> send, in memory.
#include "stages/pipeline/pipeline.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/chain/publication.h"
#include "engine/chain/tx.h"
#include "engine/chain/verify.h"
#include "engine/model/wall_time.h"
#include "tests/support/alloc_counter.h"
#include "tools/gen/intent_gen.h"

namespace raregen::pipeline {
namespace {

using namespace std::chrono_literals;

// Keeps what reached the network side, in order. Preallocated: the
// allocation test runs through it.
class RecordingSink final : public send::TxSink {
  public:
    explicit RecordingSink(std::size_t capacity) { m_jobs.reserve(capacity); }
    send::SinkStatus try_send(const model::Job& job) noexcept override {
        std::lock_guard lock(m_mu);
        if (m_jobs.size() == m_jobs.capacity()) return send::SinkStatus::failed;
        m_jobs.push_back(job);
        m_count.store(m_jobs.size(), std::memory_order_release);
        return send::SinkStatus::accepted;
    }
    bool flush() noexcept override { return true; }
    std::string_view last_error() const noexcept override { return "recording sink is full"; }
    std::size_t count() const { return m_count.load(std::memory_order_acquire); }
    std::vector<model::Job> jobs() const {
        std::lock_guard lock(m_mu);
        return m_jobs;
    }

  private:
    mutable std::mutex m_mu;
    std::vector<model::Job> m_jobs;
    std::atomic<std::size_t> m_count{0};
};

struct Intents {
    std::string text;  // NDJSON
    std::string registry;
    std::array<std::size_t, ingest::k_generated_kinds> kinds{};
};

Intents make_intents(std::size_t n, double invalid_share, std::uint64_t seed) {
    ingest::IntentGenOptions o;
    o.count = n;
    o.signers = 3;
    o.invalid_share = invalid_share;
    o.seed = seed;
    o.timestamp =
        std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
    ingest::IntentGenerator gen(o);
    Intents out;
    out.registry = gen.registry_text();
    std::string line;
    while (!gen.done()) {
        gen.next(line);
        out.text += line;
        out.text += '\n';
    }
    for (std::size_t k = 0; k < ingest::k_generated_kinds; ++k)
        out.kinds[k] = gen.emitted(static_cast<ingest::GeneratedKind>(k));
    return out;
}

std::vector<chain::Utxo> make_utxos(std::size_t n) {
    std::vector<chain::Utxo> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t x = i;
        v[i].outpoint.txid =
            chain::sha256(chain::ByteSpan(reinterpret_cast<const std::uint8_t*>(&x), 8));
        v[i].outpoint.vout = static_cast<std::uint32_t>(i % 7);
        v[i].value = 100;
    }
    return v;
}

const chain::PublicationKey& test_key() {
    static const chain::PublicationKey key = [] {
        chain::Bytes secret(32, 0x42);
        return chain::PublicationKey(*chain::PrivateKey::from_bytes(secret));
    }();
    return key;
}

// Writes `text` to a temporary file and returns an fd open for reading.
int temp_input(const std::string& text) {
    char path[] = "/tmp/raregen_pipeline_XXXXXX";
    const int fd = ::mkstemp(path);
    EXPECT_GE(fd, 0);
    ::unlink(path);
    EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::lseek(fd, 0, SEEK_SET);
    return fd;
}

// One pipeline run with everything it needs; the clock is frozen (so batches
// close by size only and the run is deterministic) unless a test moves it.
struct PipelineRun {
    flow::ManualClock clock{flow::Nanos{1'000'000'000}};
    ingest::InMemorySignerRegistry registry;
    ingest::InMemoryNonceStore nonces{1 << 16, 15min};
    utxo::UtxoRing ring;
    model::CountingFactSink facts;
    RecordingSink sink;
    PipelineConfig config;
    std::optional<Pipeline> pipe;

    PipelineRun(const Intents& in, std::size_t utxos, std::size_t capacity,
                std::size_t expected_jobs)
        : registry(*ingest::InMemorySignerRegistry::parse(in.registry, "test").registry),
          ring(std::max(utxos, expected_jobs) + 1),
          sink(expected_jobs + 16) {
        const auto v = make_utxos(utxos);
        EXPECT_EQ(ring.try_push_bulk(v), v.size());
        config.channel_capacity = capacity;
        config.budget = 16;
        config.batch_prefix = "t";
        config.max_batch_size = 7;
        config.gate.capacity = gate::k_max_capacity;  // open
        config.ingest.seed = 99;
        config.ingest.wall_offset =
            std::chrono::system_clock::now().time_since_epoch() - clock.now();
        config.sign.max_chunk = 32;
    }
    void build(int fd) {
        PipelineParts p;
        p.input_fd = fd;
        p.nonces = &nonces;
        p.signers = &registry;
        p.ring = &ring;
        p.key = &test_key();
        p.sink = &sink;
        p.facts = &facts;
        p.clock = &clock;
        pipe.emplace(config, p);
    }
};

// Every job reached the sink once, with a valid transaction spending a
// distinct UTXO, and batch_seq runs 1..N without gaps in send order.
void expect_consistent(const std::vector<model::Job>& jobs) {
    std::set<std::uint64_t> seqs;
    std::set<std::string> outpoints, txids;
    std::map<std::uint64_t, std::uint32_t> last_seq;
    const chain::TxOut prev{
        100, chain::Bytes(test_key().locking_script().begin(), test_key().locking_script().end())};
    for (const model::Job& j : jobs) {
        EXPECT_TRUE(seqs.insert(j.intake_seq).second) << "job " << j.intake_seq << " twice";
        EXPECT_TRUE(outpoints.insert(chain::format_outpoint(j.utxo.outpoint)).second)
            << "UTXO reused";
        EXPECT_TRUE(txids.insert(chain::hash_to_display(j.txid)).second);
        EXPECT_EQ(j.batch_seq, last_seq[j.batch_no] + 1)
            << "gap or disorder in batch " << j.batch_no;
        last_seq[j.batch_no] = j.batch_seq;
        chain::Transaction tx;
        ASSERT_TRUE(chain::parse_transaction(j.raw.span(), tx).ok());
        EXPECT_EQ(chain::compute_txid(tx), j.txid);
        EXPECT_EQ(chain::verify_p2pkh_input(tx, chain::SighashCache::compute(tx), 0, prev),
                  chain::InputVerifyError::ok);
        const chain::RaregenPayload payload = chain::raregen_payload(j.record_hash);
        std::vector<chain::ByteSpan> pushes;
        ASSERT_TRUE(chain::parse_data_script(tx.outputs[0].script, pushes));
        ASSERT_EQ(pushes.size(), 1u);
        EXPECT_TRUE(std::equal(pushes[0].begin(), pushes[0].end(), payload.bytes.begin(),
                               payload.bytes.end()));
    }
}

TEST(Pipeline, SameInputTwiceGivesIdenticalBatchesAndTxids) {
    const Intents in = make_intents(300, 0.0, 7);
    std::vector<model::Job> first;
    for (int round = 0; round < 2; ++round) {
        PipelineRun r(in, 400, 64, 300);
        const int fd = temp_input(in.text);
        r.build(fd);
        r.pipe->run();
        ::close(fd);
        const auto jobs = r.sink.jobs();
        ASSERT_EQ(jobs.size(), 300u);
        expect_consistent(jobs);
        EXPECT_EQ(r.pipe->ingest().accepted(), 300u);
        EXPECT_EQ(r.facts.count(model::FactKind::job_accepted), 300u);
        EXPECT_EQ(r.facts.count(model::FactKind::tx_signed), 300u);
        EXPECT_EQ(r.facts.count(model::FactKind::tx_sent), 300u);
        EXPECT_EQ(r.facts.count(model::FactKind::batch_closed), (300u + 6) / 7);
        if (round == 0) {
            first = jobs;
            continue;
        }
        for (std::size_t i = 0; i < jobs.size(); ++i) {
            EXPECT_EQ(jobs[i].intake_seq, first[i].intake_seq);
            EXPECT_EQ(jobs[i].batch_no, first[i].batch_no);
            EXPECT_EQ(jobs[i].batch_seq, first[i].batch_seq);
            EXPECT_EQ(jobs[i].txid, first[i].txid);
            EXPECT_EQ(jobs[i].job_id, first[i].job_id);
        }
    }
}

TEST(Pipeline, TinyChannelsLoseAndDuplicateNothing) {
    const Intents in = make_intents(400, 0.0, 11);
    for (std::size_t capacity : {1u, 2u}) {
        PipelineRun r(in, 400, capacity, 400);
        const int fd = temp_input(in.text);
        r.build(fd);
        r.pipe->run();
        ::close(fd);
        const auto jobs = r.sink.jobs();
        ASSERT_EQ(jobs.size(), 400u) << "capacity " << capacity;
        expect_consistent(jobs);
        for (std::size_t i = 0; i < jobs.size(); ++i)
            EXPECT_EQ(jobs[i].intake_seq, i + 1);
    }
}

TEST(Pipeline, InvalidIntentsAreRejectedWithTheirReason) {
    const Intents in = make_intents(600, 0.3, 5);
    PipelineRun r(in, 600, 64, 600);
    const int fd = temp_input(in.text);
    r.build(fd);
    r.pipe->run();
    ::close(fd);
    const auto& ing = r.pipe->ingest();
    for (std::size_t k = 1; k < ingest::k_generated_kinds; ++k) {
        const auto kind = static_cast<ingest::GeneratedKind>(k);
        EXPECT_GT(in.kinds[k], 0u) << ingest::generated_kind_name(kind);
        EXPECT_EQ(ing.rejected(ingest::expected_reason(kind)), in.kinds[k])
            << ingest::generated_kind_name(kind);
    }
    const std::size_t valid = in.kinds[static_cast<std::size_t>(ingest::GeneratedKind::valid)];
    EXPECT_EQ(ing.accepted(), valid);
    EXPECT_EQ(r.sink.count(), valid);
    expect_consistent(r.sink.jobs());
}

TEST(Pipeline, EmptyRingHoldsJobsAndLosesNone) {
    const Intents in = make_intents(50, 0.0, 3);
    PipelineRun r(in, 20, 8, 50);  // fewer UTXOs than jobs
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    r.build(pipefd[0]);
    r.pipe->start();
    ASSERT_EQ(::write(pipefd[1], in.text.data(), in.text.size()),
              static_cast<ssize_t>(in.text.size()));
    // 20 go out, then the sign stage waits on the empty ring.
    for (int i = 0; i < 60000 && r.sink.count() < 20; ++i)
        std::this_thread::sleep_for(1ms);
    EXPECT_EQ(r.sink.count(), 20u);
    const auto more = make_utxos(60);
    EXPECT_EQ(r.ring.try_push_bulk(std::span(more).subspan(20, 30)), 30u);  // 30 new outpoints
    r.pipe->runner().wake();
    ::close(pipefd[1]);
    r.pipe->wait();
    ::close(pipefd[0]);
    const auto jobs = r.sink.jobs();
    EXPECT_EQ(jobs.size(), 50u);
    expect_consistent(jobs);
}

TEST(Pipeline, ClosedRingFailsUnfundedJobsInsteadOfWaiting) {
    const Intents in = make_intents(50, 0.0, 4);
    PipelineRun r(in, 20, 8, 50);
    r.ring.close();  // these 20 are all there will be
    const int fd = temp_input(in.text);
    r.build(fd);
    r.pipe->run();  // returns: nothing waits for UTXOs that cannot come
    ::close(fd);
    EXPECT_EQ(r.pipe->ingest().accepted(), 50u);
    EXPECT_EQ(r.sink.count(), 20u);
    EXPECT_EQ(r.pipe->sign().unfunded(), 30u);
    EXPECT_EQ(r.facts.count(model::FactKind::job_failed), 30u);
    EXPECT_EQ(r.facts.count(model::FactKind::tx_signed), 20u);
    expect_consistent(r.sink.jobs());
}

TEST(Pipeline, StopMidRunLosesNothingAccepted) {
    const Intents in = make_intents(2000, 0.0, 13);
    PipelineRun r(in, 2000, 16, 2000);
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    r.build(pipefd[0]);
    r.pipe->start();
    // Feed the first half, stop once some are out, then offer the rest.
    const std::size_t half = in.text.find('\n', in.text.size() / 2) + 1;
    ASSERT_EQ(::write(pipefd[1], in.text.data(), half), static_cast<ssize_t>(half));
    for (int i = 0; i < 60000 && r.sink.count() < 50; ++i)
        std::this_thread::sleep_for(1ms);
    r.pipe->request_stop();
    // The rest may never be read: closing the read end then fails this write
    // with EPIPE, which must not kill the test with SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    std::thread rest([&] {
        (void)!::write(pipefd[1], in.text.data() + half, in.text.size() - half);
        ::close(pipefd[1]);
    });
    r.pipe->wait();
    ::close(pipefd[0]);
    rest.join();
    const std::uint64_t accepted = r.pipe->ingest().accepted();
    EXPECT_GE(accepted, 50u);
    EXPECT_LT(accepted, 2000u) << "intake did not stop";
    const auto jobs = r.sink.jobs();
    EXPECT_EQ(jobs.size(), accepted) << "an accepted job was lost in the drain";
    expect_consistent(jobs);
}

TEST(Pipeline, NoAllocationPerJobAfterWarmUp) {
    if (!test::alloc_counting_available())
        GTEST_SKIP() << "allocation counting is off in sanitizer builds";
    const std::size_t warm = 1000, measured = 10000;
    const Intents in = make_intents(warm + measured, 0.0, 17);
    PipelineRun r(in, warm + measured, 256, warm + measured);
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    r.build(pipefd[0]);
    r.pipe->start();
    std::size_t split = 0;
    for (std::size_t i = 0; i < warm; ++i)
        split = in.text.find('\n', split) + 1;
    auto write_all = [&](const char* p, std::size_t n) {
        while (n > 0) {
            const ssize_t w = ::write(pipefd[1], p, n);
            if (w <= 0) return false;
            p += w;
            n -= static_cast<std::size_t>(w);
        }
        return true;
    };
    ASSERT_TRUE(write_all(in.text.data(), split));
    for (int i = 0; i < 120000 && r.sink.count() < warm; ++i)
        std::this_thread::sleep_for(1ms);
    ASSERT_EQ(r.sink.count(), warm);
    test::start_counting_allocations();
    const bool wrote = write_all(in.text.data() + split, in.text.size() - split);
    for (int i = 0; i < 600000 && r.sink.count() < warm + measured; ++i)
        std::this_thread::sleep_for(1ms);
    const std::uint64_t allocations = test::stop_counting_allocations();
    ASSERT_TRUE(wrote);
    ::close(pipefd[1]);
    r.pipe->wait();
    ::close(pipefd[0]);
    EXPECT_EQ(r.sink.count(), warm + measured);
    EXPECT_EQ(allocations, 0u) << "heap allocations while " << measured << " jobs flowed";
}

}  // namespace
}  // namespace raregen::pipeline
