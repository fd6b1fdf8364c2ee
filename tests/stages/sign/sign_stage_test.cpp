#include "stages/sign/sign_stage.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "engine/flow/runner.h"
#include "tests/stages/sign/sign_test_util.h"

namespace raregen::sign {
namespace {

using flow::Step;
using model::FactKind;
using testing::Harness;
using testing::make_utxo;

SignStageOptions options_with(std::size_t threads, std::size_t max_chunk = 64,
                              bool change = false) {
    SignStageOptions o;
    o.threads = threads;
    o.max_chunk = max_chunk;
    o.publication.change = change;
    return o;
}

// N jobs in, N signed jobs out in input order, job k spending UTXO k, every
// transaction valid, one tx_signed fact per job in the same order.
void check_signs_all_in_order(std::size_t threads) {
    constexpr std::uint64_t k_jobs = 300;
    Harness h(k_jobs, options_with(threads));
    h.add_utxos(0, k_jobs);
    h.feed(0, k_jobs);
    h.close_input();
    h.run_to_end();

    ASSERT_EQ(h.received().size(), k_jobs);
    std::set<std::pair<chain::Hash256, std::uint32_t>> outpoints;
    for (std::uint64_t i = 0; i < k_jobs; ++i) {
        const model::Job& job = h.received()[i];
        EXPECT_EQ(job.intake_seq, i + 1);
        EXPECT_EQ(job.utxo.outpoint, make_utxo(i).outpoint);
        EXPECT_TRUE(outpoints.insert({job.utxo.outpoint.txid, job.utxo.outpoint.vout}).second);
        EXPECT_EQ(job.record_id.view(), "record-" + std::to_string(i));  // untouched fields survive
        testing::expect_valid_publication(job, h.key());
    }
    ASSERT_EQ(h.facts().facts().size(), k_jobs);
    for (std::uint64_t i = 0; i < k_jobs; ++i) {
        const auto& f = h.facts().facts()[i];
        EXPECT_EQ(f.kind, FactKind::tx_signed);
        EXPECT_EQ(f.intake_seq, i + 1);
        EXPECT_EQ(f.txid, h.received()[i].txid);
    }
    const auto& c = h.stage().counters();
    EXPECT_EQ(c.items_in(), k_jobs);
    EXPECT_EQ(c.items_out(), k_jobs);
    EXPECT_EQ(c.rejected(), 0u);
    EXPECT_EQ(h.stage().signed_count(), k_jobs);
    EXPECT_EQ(h.stage().held(), 0u);
    EXPECT_EQ(h.ring().depth(), 0u);
    EXPECT_TRUE(h.output().closed());
}

TEST(SignStage, SignsEveryJobInOrderOnTwoThreads) {
    check_signs_all_in_order(2);
}
TEST(SignStage, SignsEveryJobInOrderOnOneThread) {
    check_signs_all_in_order(1);
}

TEST(SignStage, ChangeOutputPaysBackTheKey) {
    Harness h(10, options_with(2, 64, /*change=*/true));
    h.add_utxos(0, 10, 100);
    h.feed(0, 10);
    h.close_input();
    h.run_to_end();
    ASSERT_EQ(h.received().size(), 10u);
    for (const model::Job& job : h.received()) {
        testing::expect_valid_publication(job, h.key());
        chain::Transaction tx;
        ASSERT_TRUE(chain::parse_transaction(job.raw.span(), tx).ok());
        ASSERT_EQ(tx.outputs.size(), 2u);
        // docs/protocol.md §4: 299 bytes at 100 sat/kB is a 30 sat fee, 70 sat change.
        EXPECT_EQ(tx.outputs[1].value, 70);
        EXPECT_TRUE(std::equal(tx.outputs[1].script.begin(), tx.outputs[1].script.end(),
                               h.key().locking_script().begin(), h.key().locking_script().end()));
    }
}

TEST(SignStage, StandardOnlyWhenExtendedIsOff) {
    SignStageOptions o = options_with(2);
    o.extended = false;
    Harness h(5, o);
    h.add_utxos(0, 5);
    h.feed(0, 5);
    h.close_input();
    h.run_to_end();
    ASSERT_EQ(h.received().size(), 5u);
    for (const model::Job& job : h.received())
        testing::expect_valid_publication(job, h.key(), false);
}

// Same jobs and same UTXOs give the same transactions, whatever the thread
// count, chunk size or budget.
TEST(SignStage, DeterministicAcrossRunsThreadsAndChunking) {
    constexpr std::uint64_t k_jobs = 200;
    struct Config {
        std::size_t threads, max_chunk, budget;
    };
    std::vector<std::vector<model::Job>> runs;
    for (const Config c :
         {Config{2, 64, 64}, Config{2, 64, 64}, Config{1, 7, 64}, Config{2, 256, 13}}) {
        Harness h(k_jobs, options_with(c.threads, c.max_chunk));
        h.add_utxos(0, k_jobs);
        h.feed(0, k_jobs);
        h.close_input();
        h.run_to_end(c.budget);
        ASSERT_EQ(h.received().size(), k_jobs);
        runs.push_back(h.received());
    }
    for (std::size_t r = 1; r < runs.size(); ++r) {
        for (std::uint64_t i = 0; i < k_jobs; ++i) {
            ASSERT_EQ(runs[r][i].txid, runs[0][i].txid) << "run " << r << " job " << i;
            ASSERT_TRUE(std::equal(runs[r][i].raw.span().begin(), runs[r][i].raw.span().end(),
                                   runs[0][i].raw.span().begin(), runs[0][i].raw.span().end()));
        }
    }
}

// No UTXO: the stage takes no job, reports blocked, and resumes once the
// ring is refilled; no job is lost or signed twice.
TEST(SignStage, EmptyRingBlocksThenResumesWhenRefilled) {
    Harness h(100, options_with(2));
    h.feed(0, 10);
    EXPECT_EQ(h.step(), Step::blocked);
    EXPECT_EQ(h.step(), Step::blocked);
    EXPECT_EQ(h.input().size(), 10u);  // the jobs wait where they were
    EXPECT_EQ(h.stage().counters().items_in(), 0u);
    EXPECT_EQ(h.stage().utxo_waits(), 2u);
    EXPECT_TRUE(h.facts().facts().empty());

    h.add_utxos(0, 4);
    EXPECT_EQ(h.step(), Step::progressed);
    EXPECT_EQ(h.drain(), 4u);
    EXPECT_EQ(h.input().size(), 6u);
    EXPECT_EQ(h.ring().depth(), 0u);
    EXPECT_EQ(h.step(), Step::blocked);
    EXPECT_EQ(h.stage().utxo_waits(), 3u);

    h.add_utxos(4, 6);
    EXPECT_EQ(h.step(), Step::progressed);
    EXPECT_EQ(h.drain(), 6u);
    EXPECT_EQ(h.step(), Step::idle);  // empty ring, but no job waiting either
    h.close_input();
    EXPECT_EQ(h.step(), Step::finished);

    ASSERT_EQ(h.received().size(), 10u);
    for (std::uint64_t i = 0; i < 10; ++i) {
        EXPECT_EQ(h.received()[i].intake_seq, i + 1);
        EXPECT_EQ(h.received()[i].utxo.outpoint, make_utxo(i).outpoint);
        testing::expect_valid_publication(h.received()[i], h.key());
    }
    EXPECT_EQ(h.facts().facts().size(), 10u);
}

TEST(SignStage, IdleWhenNothingToDo) {
    Harness h(10, options_with(2));
    h.add_utxos(0, 3);
    EXPECT_EQ(h.step(), Step::idle);  // UTXOs but no jobs
    EXPECT_EQ(h.ring().depth(), 3u);  // none taken without a job
    EXPECT_EQ(h.stage().utxo_waits(), 0u);
}

TEST(SignStage, FinishesOnClosedEmptyInputEvenWithEmptyRing) {
    Harness h(10, options_with(2));
    h.close_input();
    EXPECT_EQ(h.step(), Step::finished);
    EXPECT_TRUE(h.output().closed_and_empty());
}

// Output capacity 1: the stage hands on one job per drained slot, keeps the
// rest of the chunk, and loses or repeats nothing.
TEST(SignStage, OutputOfCapacityOneLosesNothing) {
    constexpr std::uint64_t k_jobs = 100;
    Harness h(k_jobs, options_with(2, 32), 1024, /*output_capacity=*/1);
    h.add_utxos(0, k_jobs);
    h.feed(0, k_jobs);
    h.close_input();
    std::size_t blocked = 0;
    std::vector<model::Job> got;
    for (std::size_t steps = 0; steps < 10'000; ++steps) {
        const Step s = h.step();
        if (s == Step::blocked) {
            ++blocked;
            // Held jobs are exactly those taken and not yet handed on.
            EXPECT_EQ(h.stage().held(),
                      h.stage().counters().items_in() - h.stage().counters().items_out());
        }
        // Take one job out only every other step, so the stage meets a full output often.
        model::Job job;
        if (steps % 2 == 1 && h.output().try_dequeue(job)) got.push_back(job);
        if (s == Step::finished) break;
    }
    model::Job job;
    while (h.output().try_dequeue(job))
        got.push_back(job);
    ASSERT_EQ(got.size(), k_jobs);
    for (std::uint64_t i = 0; i < k_jobs; ++i)
        EXPECT_EQ(got[i].intake_seq, i + 1);
    EXPECT_GT(blocked, 0u);
    EXPECT_EQ(h.stage().counters().items_out(), k_jobs);
    EXPECT_EQ(h.facts().facts().size(), k_jobs);
    for (std::uint64_t i = 0; i < k_jobs; ++i)
        EXPECT_EQ(h.facts().facts()[i].intake_seq, i + 1);
}

// The fact sink refusing (the write-behind full) blocks like a full output:
// every fact goes out exactly once, before its job, in order.
TEST(SignStage, RefusingFactSinkKeepsExactlyOnce) {
    constexpr std::uint64_t k_jobs = 150;
    Harness h(k_jobs, options_with(2, 64), 1024, /*output_capacity=*/3);
    h.facts().refuse_every(3);
    h.add_utxos(0, k_jobs);
    h.feed(0, k_jobs);
    h.close_input();
    std::size_t steps = 0;
    for (; steps < 10'000; ++steps) {
        const Step s = h.step();
        // Every job that reached the output has had its fact emitted already.
        EXPECT_LE(h.received().size() + h.output().size(), h.facts().facts().size());
        if (steps % 3 == 0) h.drain();
        if (s == Step::finished) break;
    }
    h.drain();
    ASSERT_EQ(h.received().size(), k_jobs);
    ASSERT_EQ(h.facts().facts().size(), k_jobs);
    for (std::uint64_t i = 0; i < k_jobs; ++i) {
        EXPECT_EQ(h.received()[i].intake_seq, i + 1);
        EXPECT_EQ(h.facts().facts()[i].intake_seq, i + 1);
        EXPECT_EQ(h.facts().facts()[i].kind, FactKind::tx_signed);
        EXPECT_EQ(h.facts().facts()[i].txid, h.received()[i].txid);
    }
}

// A UTXO too small for the fee fails its job (job_failed, rejected, not
// sent); its UTXO is dropped as dirty and the others go through in order.
TEST(SignStage, TooSmallUtxoFailsItsJobOnly) {
    constexpr std::uint64_t k_jobs = 20;
    Harness h(k_jobs, options_with(2));
    for (std::uint64_t i = 0; i < k_jobs; ++i)
        h.add_utxo(make_utxo(i, i % 5 == 2 ? 10 : 100));
    h.feed(0, k_jobs);
    h.close_input();
    h.run_to_end();

    EXPECT_EQ(h.stage().failed(), 4u);
    EXPECT_EQ(h.stage().dirty_utxos(), 4u);
    EXPECT_EQ(h.stage().counters().rejected(), 4u);
    EXPECT_EQ(h.stage().signed_count(), 16u);
    EXPECT_EQ(h.stage().counters().items_out(), 16u);
    ASSERT_EQ(h.received().size(), 16u);
    ASSERT_EQ(h.facts().facts().size(), k_jobs);
    std::size_t out = 0;
    for (std::uint64_t i = 0; i < k_jobs; ++i) {
        const auto& f = h.facts().facts()[i];
        EXPECT_EQ(f.intake_seq, i + 1);
        EXPECT_EQ(f.utxo.outpoint, make_utxo(i).outpoint);
        if (i % 5 == 2) {
            EXPECT_EQ(f.kind, FactKind::job_failed);
        } else {
            EXPECT_EQ(f.kind, FactKind::tx_signed);
            EXPECT_EQ(h.received()[out].intake_seq, i + 1);
            testing::expect_valid_publication(h.received()[out], h.key());
            ++out;
        }
    }
}

TEST(SignStage, RefusesZeroThreadsOrChunk) {
    chain::PublicationKey key = testing::test_key();
    flow::Channel<model::Job> in(4), out(4);
    utxo::UtxoRing ring(4);
    model::CountingFactSink facts;
    EXPECT_THROW(SignStage(in, out, ring, key, facts, options_with(0)), std::invalid_argument);
    EXPECT_THROW(SignStage(in, out, ring, key, facts, options_with(2, 0)), std::invalid_argument);
}

// In a running graph: the runner thread steps the stage (and signs beside its
// helper), the test thread feeds jobs and refills the ring while it runs.
TEST(SignStage, RunsUnderTheRunnerWithLateRefill) {
    constexpr std::uint64_t k_jobs = 400;
    chain::PublicationKey key = testing::test_key();
    flow::ManualClock clock;
    flow::Channel<model::Job> in(64), out(k_jobs);
    auto feeder = in.make_producer();
    auto drain = out.make_consumer();
    utxo::UtxoRing ring(k_jobs);
    model::CountingFactSink facts;
    flow::Runner runner(clock, flow::RunnerOptions{.threads = 1, .budget = 32});
    auto& stage = runner.emplace<SignStage>(0, in, out, ring, key, facts, options_with(2, 32));
    runner.start();

    std::uint64_t fed = 0;
    std::uint64_t utxos = 0;
    std::vector<model::Job> got;
    model::Job job;
    while (got.size() < k_jobs) {
        if (fed < k_jobs && feeder.try_enqueue(testing::make_job(fed))) {
            ++fed;
            runner.wake();
        }
        // UTXOs trail the jobs, so the stage keeps meeting an empty ring.
        if (utxos < k_jobs && (utxos + 5 < fed || fed == k_jobs) &&
            ring.try_push(make_utxo(utxos))) {
            ++utxos;
            runner.wake();
        }
        while (drain.try_dequeue(job))
            got.push_back(job);
        std::this_thread::yield();
    }
    feeder.close();
    runner.wake();
    runner.wait();
    for (std::uint64_t i = 0; i < k_jobs; ++i) {
        ASSERT_EQ(got[i].intake_seq, i + 1);
        ASSERT_EQ(got[i].utxo.outpoint, make_utxo(i).outpoint);
    }
    testing::expect_valid_publication(got.front(), key);
    testing::expect_valid_publication(got.back(), key);
    EXPECT_EQ(facts.count(FactKind::tx_signed), k_jobs);
    EXPECT_EQ(stage.counters().items_out(), k_jobs);
    EXPECT_TRUE(out.closed());
}

}  // namespace
}  // namespace raregen::sign
