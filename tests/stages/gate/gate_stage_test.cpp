#include "stages/gate/gate_stage.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <vector>

namespace raregen::gate {
namespace {

using namespace std::chrono_literals;
using JobChannel = flow::Channel<model::Job>;

TEST(GateStage, ReleasesAtMostCapacityPerPeriodAndKeepsOrder) {
    const std::uint32_t cap = 5;
    JobChannel in(1000), out(1000);
    flow::RunContext ctx;
    model::CountingFactSink facts;
    auto feed = in.make_producer();
    auto drain = out.make_consumer();
    GateStage gate(TokenBucketConfig{cap, 3s}, in, out, facts, ctx);
    const int n = 60;
    for (int i = 1; i <= n; ++i) {
        model::Job j;
        j.intake_seq = static_cast<std::uint64_t>(i);
        ASSERT_TRUE(feed.try_enqueue(j));
    }
    feed.close();
    std::vector<model::Job> got;
    flow::Nanos now{0};
    flow::Step s = flow::Step::progressed;
    for (int guard = 0; guard < 100000 && s != flow::Step::finished; ++guard) {
        s = gate.step(now, 64);
        model::Job j;
        while (drain.try_dequeue(j))
            got.push_back(j);
        if (s == flow::Step::idle) {
            // The stage asked to be woken when tokens return. (The runner
            // clears a deadline once reached; this hand-driven loop cannot, so
            // a stale earlier deadline may still show: then tokens granted at
            // `now` come back one period later.)
            ASSERT_NE(ctx.deadline(), flow::RunContext::k_no_deadline);
            now = ctx.deadline() > now ? ctx.deadline() : now + 3s;
        }
    }
    ASSERT_EQ(s, flow::Step::finished);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        EXPECT_EQ(got[i].intake_seq, static_cast<std::uint64_t>(i + 1));
    // Sliding windows over release times: never more than cap in any 3 s.
    std::size_t lo = 0;
    for (std::size_t hi = 0; hi < got.size(); ++hi) {
        while (got[hi].released_at - got[lo].released_at >= 3s)
            ++lo;
        EXPECT_LE(hi - lo + 1, cap) << "at release " << hi;
    }
    // Under backlog the rate is the configured one: n jobs need (n/cap - 1) periods after the
    // burst.
    EXPECT_EQ(got.back().released_at, flow::Nanos{3s * (n / cap - 1)});
    EXPECT_EQ(facts.count(model::FactKind::tx_released), static_cast<std::uint64_t>(n));
    EXPECT_TRUE(out.closed());
}

// Refuses every third fact: a gate must not take a token for a job whose
// fact was refused, or that job would leave later than its grant and two
// windows' worth could leave close together.
class RefusingFacts final : public model::FactSink {
  public:
    model::FactTicket durable_through() const noexcept override { return ~model::FactTicket{0}; }
    model::FactTicket m_ticket = 0;
    model::FactTicket try_emit(model::FactKind, const model::Job&, flow::Nanos,
                               std::string_view) noexcept override {
        return ++m_calls % 3 != 0 ? ++m_ticket : 0;
    }

  private:
    int m_calls = 0;
};

TEST(GateStage, RefusedFactsSpendNoTokenAndKeepTheWindow) {
    const std::uint32_t cap = 4;
    JobChannel in(1000), out(1000);
    flow::RunContext ctx;
    RefusingFacts facts;
    auto feed = in.make_producer();
    auto drain = out.make_consumer();
    GateStage gate(TokenBucketConfig{cap, 3s}, in, out, facts, ctx);
    const int n = 40;
    for (int i = 1; i <= n; ++i) {
        model::Job j;
        j.intake_seq = static_cast<std::uint64_t>(i);
        ASSERT_TRUE(feed.try_enqueue(j));
    }
    feed.close();
    std::vector<model::Job> got;
    flow::Nanos now{0};
    flow::Step s = flow::Step::progressed;
    for (int guard = 0; guard < 100000 && s != flow::Step::finished; ++guard) {
        s = gate.step(now, 3);
        model::Job j;
        while (drain.try_dequeue(j))
            got.push_back(j);
        now += 250ms;  // time moves on whatever the stage said
    }
    ASSERT_EQ(s, flow::Step::finished);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(gate.bucket().total_granted(), static_cast<std::uint64_t>(n));  // one token per job
    std::size_t lo = 0;
    for (std::size_t hi = 0; hi < got.size(); ++hi) {
        EXPECT_EQ(got[hi].intake_seq, hi + 1);
        while (got[hi].released_at - got[lo].released_at >= 3s)
            ++lo;
        EXPECT_LE(hi - lo + 1, cap) << "at release " << hi;
    }
}

// The shared limit: a job leaves only with a token of its own bucket and one
// the lease thread granted; without one the gate waits and says how many
// jobs need tokens; a refused fact keeps the shared token for the next try.
TEST(GateStage, SharedTokensGateTheJobsOnTopOfTheBucket) {
    JobChannel in(100), out(100);
    flow::RunContext ctx;
    RefusingFacts facts;  // every third fact refused
    SharedAllowance shared;
    auto feed = in.make_producer();
    auto drain = out.make_consumer();
    GateStage gate(TokenBucketConfig{100, 3s}, in, out, facts, ctx, nullptr, &shared);
    for (int i = 1; i <= 10; ++i) {
        model::Job j;
        j.intake_seq = static_cast<std::uint64_t>(i);
        ASSERT_TRUE(feed.try_enqueue(j));
    }
    auto drained = [&] {
        std::size_t n = 0;
        model::Job j;
        while (drain.try_dequeue(j))
            ++n;
        return n;
    };
    EXPECT_EQ(gate.step(flow::Nanos{0}, 64), flow::Step::progressed);  // took a job, no token
    EXPECT_EQ(drained(), 0u);
    EXPECT_EQ(shared.demand(), 10u);
    EXPECT_GE(gate.shared_waits(), 1u);
    EXPECT_NE(ctx.deadline(), flow::RunContext::k_no_deadline);

    shared.grant(4);
    std::size_t out_n = 0;
    for (int k = 0; k < 10; ++k)
        (void)gate.step(flow::Nanos{1}, 64), out_n += drained();
    EXPECT_EQ(out_n, 4u) << "one shared token per job, refused facts spend none";
    EXPECT_EQ(shared.available(), 0u);
    EXPECT_EQ(shared.demand(), 6u);

    shared.grant(100);
    feed.close();
    for (int k = 0; k < 20; ++k)
        (void)gate.step(flow::Nanos{2}, 64), out_n += drained();
    EXPECT_EQ(out_n, 10u);
    EXPECT_EQ(shared.available(), 94u);
    EXPECT_EQ(shared.demand(), 0u);
    EXPECT_EQ(gate.bucket().total_granted(), 10u);
}

TEST(GateStage, FinishesWithoutWaitingForATokenWhenInputEnds) {
    JobChannel in(10), out(10);
    flow::RunContext ctx;
    model::CountingFactSink facts;
    auto feed = in.make_producer();
    GateStage gate(TokenBucketConfig{1, 3s}, in, out, facts, ctx);
    ASSERT_TRUE(feed.try_enqueue(model::Job{}));
    feed.close();
    EXPECT_EQ(gate.step(flow::Nanos{0}, 8), flow::Step::finished);  // the bucket is empty now
    EXPECT_EQ(out.size(), 1u);
}

TEST(GateStage, FullOutputSpendsNoToken) {
    JobChannel in(10), out(1);
    flow::RunContext ctx;
    model::CountingFactSink facts;
    auto feed = in.make_producer();
    auto drain = out.make_consumer();
    GateStage gate(TokenBucketConfig{100, 3s}, in, out, facts, ctx);
    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(feed.try_enqueue(model::Job{}));
    // One out; the second is taken in hand, then the output is full: the
    // call took input, so it reports progress; later calls are blocked.
    EXPECT_EQ(gate.step(flow::Nanos{0}, 8), flow::Step::progressed);
    EXPECT_EQ(gate.bucket().total_granted(), 1u);
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(gate.step(flow::Nanos{0}, 8), flow::Step::blocked);
    EXPECT_EQ(gate.bucket().total_granted(), 1u);  // blocked calls took no tokens
    model::Job j;
    ASSERT_TRUE(drain.try_dequeue(j));
    gate.step(flow::Nanos{0}, 8);
    EXPECT_EQ(gate.bucket().total_granted(), 2u);
}

// A sink whose watermark and refusals the test moves by hand.
class FenceFacts final : public model::FactSink {
  public:
    model::FactTicket try_emit(model::FactKind kind, const model::Job& job, flow::Nanos,
                               std::string_view) noexcept override {
        kinds.push_back(kind);
        last_fail = job.fail;
        return ++m_ticket;
    }
    model::FactTicket durable_through() const noexcept override { return durable; }
    bool refused(model::FactTicket t) const noexcept override { return t == refused_ticket; }
    model::FactTicket durable = 0;
    model::FactTicket refused_ticket = 0;
    std::vector<model::FactKind> kinds;
    model::FailCode last_fail = model::FailCode::none;

  private:
    model::FactTicket m_ticket = 1000;
};

TEST(GateStage, FenceHoldsAJobUntilItsSignedFactIsDurable) {
    JobChannel in(16), out(16);
    flow::RunContext ctx;
    FenceFacts facts;
    auto feed = in.make_producer();
    auto drain = out.make_consumer();
    GateStage gate(TokenBucketConfig{100, 3s}, in, out, facts, ctx);
    model::Job a, b, recovered;
    a.intake_seq = 1;
    a.signed_ticket = 5;
    b.intake_seq = 2;
    b.signed_ticket = 9;
    recovered.intake_seq = 3;  // ticket 0: durable already (from storage)
    ASSERT_TRUE(feed.try_enqueue(a));
    ASSERT_TRUE(feed.try_enqueue(b));
    ASSERT_TRUE(feed.try_enqueue(recovered));
    flow::Nanos now{0};
    model::Job got;
    facts.durable = 4;
    gate.step(now, 64);
    EXPECT_FALSE(drain.try_dequeue(got)) << "released before its bytes were durable";
    EXPECT_NE(ctx.deadline(), flow::RunContext::k_no_deadline) << "asks to look again";
    EXPECT_GE(gate.fence_waits(), 1u);
    facts.durable = 5;
    gate.step(now + 1ms, 64);
    ASSERT_TRUE(drain.try_dequeue(got));
    EXPECT_EQ(got.intake_seq, 1u);
    EXPECT_FALSE(drain.try_dequeue(got))
        << "b (ticket 9) must still wait, and so must what follows";
    facts.durable = 9;
    gate.step(now + 2ms, 64);
    ASSERT_TRUE(drain.try_dequeue(got));
    EXPECT_EQ(got.intake_seq, 2u);
    ASSERT_TRUE(drain.try_dequeue(got));
    EXPECT_EQ(got.intake_seq, 3u);
    EXPECT_EQ(gate.refused(), 0u);
}

TEST(GateStage, AJobStorageRefusedFailsAndNeverLeaves) {
    JobChannel in(16), out(16);
    flow::RunContext ctx;
    FenceFacts facts;
    auto feed = in.make_producer();
    auto drain = out.make_consumer();
    GateStage gate(TokenBucketConfig{100, 3s}, in, out, facts, ctx);
    model::Job a, b;
    a.intake_seq = 1;
    a.signed_ticket = 3;
    b.intake_seq = 2;
    b.signed_ticket = 4;
    ASSERT_TRUE(feed.try_enqueue(a));
    ASSERT_TRUE(feed.try_enqueue(b));
    feed.close();
    facts.durable = 4;
    facts.refused_ticket = 3;
    flow::Step s = flow::Step::progressed;
    for (int i = 0; i < 10 && s != flow::Step::finished; ++i)
        s = gate.step(flow::Nanos{0}, 64);
    EXPECT_EQ(s, flow::Step::finished);
    model::Job got;
    ASSERT_TRUE(drain.try_dequeue(got));
    EXPECT_EQ(got.intake_seq, 2u);
    EXPECT_FALSE(drain.try_dequeue(got));
    EXPECT_EQ(gate.refused(), 1u);
    ASSERT_EQ(facts.kinds.size(), 2u);
    EXPECT_EQ(facts.kinds[0], model::FactKind::job_failed);
    EXPECT_EQ(facts.kinds[1], model::FactKind::tx_released);
    EXPECT_EQ(gate.counters().snapshot().rejected, 1u);
}

}  // namespace
}  // namespace raregen::gate

namespace raregen::gate {
namespace {

// With held tokens (ARC), a released job's token comes back one period after
// the send stage counts it settled, not after its release.
TEST(GateStage, HeldTokensComeBackOnePeriodAfterTheNetworksAnswer) {
    JobChannel in(100), out(100);
    flow::RunContext ctx;
    model::CountingFactSink facts;
    std::atomic<std::uint64_t> settled{0};
    auto feed = in.make_producer();
    auto drain = out.make_consumer();
    GateStage gate(TokenBucketConfig{.capacity = 2, .period = 3s, .hold_until_settled = true}, in,
                   out, facts, ctx, &settled);
    for (int i = 0; i < 4; ++i)
        ASSERT_TRUE(feed.try_enqueue(model::Job{}));
    feed.close();
    auto released = [&] {
        std::size_t n = 0;
        model::Job j;
        while (drain.try_dequeue(j))
            ++n;
        return n;
    };
    gate.step(flow::Nanos{0}, 64);
    EXPECT_EQ(released(), 2u);
    // No answer yet: long past the period, nothing more leaves.
    EXPECT_EQ(gate.step(flow::Nanos{60s}, 64), flow::Step::idle);
    EXPECT_EQ(released(), 0u);
    settled.store(2);  // both answered at 61 s (settled at the gate's next step)
    gate.step(flow::Nanos{61s}, 64);
    EXPECT_EQ(released(), 0u);
    gate.step(flow::Nanos{64s - 1ns}, 64);
    EXPECT_EQ(released(), 0u);
    gate.step(flow::Nanos{64s}, 64);
    EXPECT_EQ(released(), 2u);
    EXPECT_EQ(gate.step(flow::Nanos{64s}, 64), flow::Step::finished);
}

}  // namespace
}  // namespace raregen::gate
