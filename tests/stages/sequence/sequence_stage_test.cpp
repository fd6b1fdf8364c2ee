#include "stages/sequence/sequence_stage.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <vector>

#include "engine/model/facts.h"

namespace raregen::sequence {
namespace {

using namespace std::chrono_literals;
using JobChannel = flow::Channel<model::Job>;

// Records batch_closed facts; can be told to refuse (backpressure).
class RecordingFacts final : public model::FactSink {
  public:
    model::FactTicket durable_through() const noexcept override { return ~model::FactTicket{0}; }
    model::FactTicket m_ticket = 0;
    model::FactTicket try_emit(model::FactKind kind, const model::Job& job, flow::Nanos,
                               std::string_view) noexcept override {
        if (refuse) return 0;
        if (kind == model::FactKind::batch_closed) closed.push_back({job.batch_no, job.batch_seq});
        return ++m_ticket;
    }
    bool refuse = false;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> closed;
};

model::Job job_with_seq(std::uint64_t n) {
    model::Job j;
    j.intake_seq = n;
    return j;
}

struct Harness {
    JobChannel in{64};
    JobChannel out{2};
    flow::RunContext ctx;
    RecordingFacts facts;
    JobChannel::Producer feed = in.make_producer();
    JobChannel::Consumer drain = out.make_consumer();
    SequenceStage stage;
    explicit Harness(std::uint32_t max_batch, std::chrono::nanoseconds window = 5s)
        : stage(SequencerConfig{"t", window, max_batch, 1}, in, out, facts, ctx) {}
};

TEST(SequenceStage, NumbersJobsAndClosesBySizeAndWindow) {
    Harness h(3, 1s);
    std::vector<model::Job> got;
    flow::Nanos now{0};
    std::uint64_t next = 1;
    auto pump = [&] {
        for (int i = 0; i < 50; ++i) {
            h.stage.step(now, 4);
            model::Job j;
            while (h.drain.try_dequeue(j))
                got.push_back(j);
        }
    };
    for (int i = 0; i < 7; ++i)
        ASSERT_TRUE(h.feed.try_enqueue(job_with_seq(next++)));
    pump();
    ASSERT_EQ(got.size(), 7u);
    // Batches of 3 closed by size, then an open batch of 1.
    EXPECT_EQ(h.facts.closed,
              (std::vector<std::pair<std::uint64_t, std::uint32_t>>{{1, 3}, {2, 3}}));
    now += 1s;  // the window of batch 3 runs out
    pump();
    EXPECT_EQ(h.facts.closed.back(), (std::pair<std::uint64_t, std::uint32_t>{3, 1}));
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].intake_seq, i + 1);  // order kept
        EXPECT_EQ(got[i].batch_no, i / 3 + 1);
        EXPECT_EQ(got[i].batch_seq, i % 3 + 1);
    }
    // End of stream: nothing open, so no extra close; the output closes.
    h.feed.close();
    EXPECT_EQ(h.stage.step(now, 4), flow::Step::finished);
    EXPECT_TRUE(h.out.closed());
    EXPECT_EQ(h.stage.counters().items_in(), 7u);
    EXPECT_EQ(h.stage.counters().items_out(), 7u);
}

TEST(SequenceStage, FlushClosesTheOpenBatchAtEndOfStream) {
    Harness h(100);
    for (std::uint64_t i = 1; i <= 5; ++i)
        ASSERT_TRUE(h.feed.try_enqueue(job_with_seq(i)));
    h.feed.close();
    flow::Step s = flow::Step::progressed;
    int guard = 0;
    while (s != flow::Step::finished && ++guard < 100) {
        s = h.stage.step(flow::Nanos{0}, 8);
        model::Job j;
        while (h.drain.try_dequeue(j)) {
        }
    }
    EXPECT_EQ(s, flow::Step::finished);
    EXPECT_EQ(h.facts.closed, (std::vector<std::pair<std::uint64_t, std::uint32_t>>{{1, 5}}));
}

TEST(SequenceStage, BlockedOutputAndFactSinkLoseNothing) {
    Harness h(2);
    for (std::uint64_t i = 1; i <= 9; ++i)
        ASSERT_TRUE(h.feed.try_enqueue(job_with_seq(i)));
    h.feed.close();
    std::vector<model::Job> got;
    int blocked = 0, guard = 0;
    flow::Step s = flow::Step::progressed;
    while (s != flow::Step::finished && ++guard < 1000) {
        h.facts.refuse = (guard % 3 == 0);  // the fact sink refuses every third call
        s = h.stage.step(flow::Nanos{guard}, 5);
        if (s == flow::Step::blocked) ++blocked;
        model::Job j;
        if (guard % 2 == 0 && h.drain.try_dequeue(j)) got.push_back(j);  // slow consumer
    }
    model::Job j;
    while (h.drain.try_dequeue(j))
        got.push_back(j);
    ASSERT_EQ(s, flow::Step::finished);
    EXPECT_GT(blocked, 0);
    ASSERT_EQ(got.size(), 9u);
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].intake_seq, i + 1);
        EXPECT_EQ(got[i].batch_seq, i % 2 + 1);
    }
    // Each batch closed exactly once: 4 full batches of 2, then the flushed one of 1.
    EXPECT_EQ(h.facts.closed, (std::vector<std::pair<std::uint64_t, std::uint32_t>>{
                                  {1, 2}, {2, 2}, {3, 2}, {4, 2}, {5, 1}}));
}

TEST(SequenceStage, AsksToBeWokenAtTheWindowDeadline) {
    Harness h(100, 250ms);
    ASSERT_TRUE(h.feed.try_enqueue(job_with_seq(1)));
    h.stage.step(flow::Nanos{1000}, 4);
    EXPECT_EQ(h.ctx.deadline(), flow::Nanos{1000} + 250ms);
}

}  // namespace
}  // namespace raregen::sequence
