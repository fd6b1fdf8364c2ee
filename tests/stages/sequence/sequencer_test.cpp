#include "stages/sequence/sequencer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace raregen::sequence {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

static_assert(std::is_trivially_copyable_v<BatchName>);
static_assert(std::is_trivially_copyable_v<BatchId>);

SequencerConfig config(std::uint32_t max_batch_size = 500, nanoseconds window = 5000ms) {
    return {.prefix = "t", .window = window, .max_batch_size = max_batch_size};
}

TEST(Sequencer, DefaultsAreTheSeeds) {
    Sequencer s({.prefix = "node1"});
    EXPECT_EQ(s.window(), 5000ms);
    EXPECT_EQ(s.max_batch_size(), 500u);
    EXPECT_EQ(s.prefix(), "node1");
    EXPECT_FALSE(s.open_batch().has_value());
    EXPECT_FALSE(s.next_deadline().has_value());
}

TEST(Sequencer, WindowClosesTheBatchFiveSecondsAfterItsFirstJob) {
    Sequencer s(config());
    const Assignment a = s.assign(10s);
    const Assignment b = s.assign(11s);
    const Assignment c = s.assign(14s + 999ms);
    EXPECT_EQ(a.batch, BatchId{1});
    EXPECT_EQ(b.batch, BatchId{1});
    EXPECT_EQ(c.batch, BatchId{1});
    EXPECT_EQ(a.seq, 1u);
    EXPECT_EQ(b.seq, 2u);
    EXPECT_EQ(c.seq, 3u);
    EXPECT_FALSE(a.closes_batch() || b.closes_batch() || c.closes_batch());
    EXPECT_EQ(s.next_deadline(), 15s);

    EXPECT_FALSE(s.poll(15s - 1ns).has_value());
    const std::optional<BatchClosed> closed = s.poll(15s);
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->batch, BatchId{1});
    EXPECT_EQ(closed->size, 3u);
    EXPECT_EQ(closed->reason, CloseReason::window);
    EXPECT_EQ(closed->opened_at, 10s);
    EXPECT_EQ(closed->closed_at, 15s);
    EXPECT_FALSE(s.poll(16s).has_value());  // closed once only
    EXPECT_FALSE(s.next_deadline().has_value());

    const Assignment d = s.assign(20s);
    EXPECT_EQ(d.batch, BatchId{2});
    EXPECT_EQ(d.seq, 1u);
    EXPECT_FALSE(d.expired.has_value());
    EXPECT_EQ(s.next_deadline(), 25s);
}

TEST(Sequencer, SizeClosesTheBatchWithItsLastJob) {
    Sequencer s(config(3));
    EXPECT_FALSE(s.assign(1s).closes_batch());
    EXPECT_FALSE(s.assign(1s).closes_batch());
    const Assignment third = s.assign(2s);
    ASSERT_TRUE(third.closes_batch());
    EXPECT_EQ(third.seq, 3u);
    EXPECT_EQ(third.filled->batch, BatchId{1});
    EXPECT_EQ(third.filled->size, 3u);
    EXPECT_EQ(third.filled->reason, CloseReason::size);
    EXPECT_EQ(third.filled->opened_at, 1s);
    EXPECT_EQ(third.filled->closed_at, 2s);
    EXPECT_FALSE(s.open_batch().has_value());
    EXPECT_FALSE(s.poll(6s).has_value());  // nothing left for the window to close

    const Assignment fourth = s.assign(8s);
    EXPECT_EQ(fourth.batch, BatchId{2});
    EXPECT_EQ(fourth.seq, 1u);
    // The new batch's window runs from its own first job, not from the close.
    EXPECT_EQ(s.next_deadline(), 13s);
    EXPECT_EQ(s.batches_closed(), 1u);
    EXPECT_EQ(s.jobs_assigned(), 4u);
}

TEST(Sequencer, WhicheverComesFirstWins) {
    Sequencer s(config(4, 1s));
    // Batch 1: four jobs inside a second, closed by size.
    for (int i = 0; i < 3; ++i)
        s.assign(100ms * i);
    EXPECT_EQ(s.assign(900ms).filled->reason, CloseReason::size);
    // Batch 2: three jobs, then the window runs out first.
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(s.assign(1s + 200ms * i).batch, BatchId{2});
    const auto closed = s.poll(2s);
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->reason, CloseReason::window);
    EXPECT_EQ(closed->size, 3u);
}

TEST(Sequencer, AJobArrivingExactlyAtTheDeadlineStartsTheNextBatch) {
    Sequencer s(config());
    s.assign(0s);
    s.assign(5s - 1ns);
    // Nobody polled: assign closes the expired batch itself and says so.
    const Assignment late = s.assign(5s);
    EXPECT_EQ(late.batch, BatchId{2});
    EXPECT_EQ(late.seq, 1u);
    ASSERT_TRUE(late.expired.has_value());
    EXPECT_EQ(late.expired->batch, BatchId{1});
    EXPECT_EQ(late.expired->size, 2u);
    EXPECT_EQ(late.expired->reason, CloseReason::window);
    EXPECT_EQ(late.expired->closed_at, 5s);
}

TEST(Sequencer, AnExpiredBatchClosesAtItsDeadlineEvenWhenNoticedLate) {
    Sequencer s(config());
    s.assign(1s);
    const Assignment much_later = s.assign(60s);
    ASSERT_TRUE(much_later.expired.has_value());
    EXPECT_EQ(much_later.expired->closed_at, 6s);
    EXPECT_EQ(much_later.batch, BatchId{2});

    Sequencer t(config());
    t.assign(1s);
    EXPECT_EQ(t.poll(60s)->closed_at, 6s);
}

TEST(Sequencer, MaxBatchSizeOneClosesEveryJobAndCanFollowAnExpiry) {
    Sequencer s(config(1));
    const Assignment a = s.assign(0s);
    EXPECT_EQ(a.seq, 1u);
    EXPECT_TRUE(a.closes_batch());
    const Assignment b = s.assign(0s);
    EXPECT_EQ(b.batch, BatchId{2});
    EXPECT_TRUE(b.closes_batch());
    EXPECT_FALSE(b.expired.has_value());
}

TEST(Sequencer, FlushClosesTheOpenBatch) {
    Sequencer s(config());
    EXPECT_FALSE(s.flush(0s).has_value());  // nothing open
    s.assign(1s);
    s.assign(2s);
    const auto flushed = s.flush(3s);
    ASSERT_TRUE(flushed.has_value());
    EXPECT_EQ(flushed->batch, BatchId{1});
    EXPECT_EQ(flushed->size, 2u);
    EXPECT_EQ(flushed->reason, CloseReason::flush);
    EXPECT_EQ(flushed->closed_at, 3s);
    EXPECT_FALSE(s.flush(3s).has_value());
    EXPECT_FALSE(s.open_batch().has_value());

    // A flush after the window ran out reports the window, at the deadline.
    s.assign(10s);
    const auto late = s.flush(20s);
    ASSERT_TRUE(late.has_value());
    EXPECT_EQ(late->batch, BatchId{2});
    EXPECT_EQ(late->reason, CloseReason::window);
    EXPECT_EQ(late->closed_at, 15s);
}

TEST(Sequencer, TimeGoingBackwardsNeitherReopensNorStretchesAWindow) {
    Sequencer s(config());
    s.assign(10s);
    s.assign(14s);
    const Assignment back = s.assign(3s);  // treated as 14 s
    EXPECT_EQ(back.batch, BatchId{1});
    EXPECT_EQ(back.seq, 3u);
    EXPECT_FALSE(s.poll(12s).has_value());
    EXPECT_TRUE(s.poll(15s).has_value());
    const Assignment next = s.assign(1s);  // treated as 15 s: a new batch opened at 15 s
    EXPECT_EQ(next.batch, BatchId{2});
    EXPECT_EQ(s.next_deadline(), 20s);
}

TEST(Sequencer, ExtremeTimesDoNotOverflow) {
    constexpr auto k_min = nanoseconds(std::numeric_limits<std::int64_t>::min());
    constexpr auto k_max = nanoseconds(std::numeric_limits<std::int64_t>::max());
    Sequencer s(config());
    s.assign(k_min);
    EXPECT_EQ(s.next_deadline(), k_min + 5s);
    EXPECT_EQ(s.assign(k_max - 1s).expired->closed_at, k_min + 5s);
    // The real deadline lies past the clock's end: reported as its last tick,
    // and the window never runs out.
    EXPECT_EQ(s.next_deadline(), k_max);
    EXPECT_FALSE(s.poll(k_max).has_value());
    EXPECT_EQ(s.flush(k_max)->reason, CloseReason::flush);
}

TEST(BatchName, IsBPrefixNumber) {
    Sequencer s({.prefix = "node-1.run_7", .first_batch = 41});
    const Assignment a = s.assign(0s);
    EXPECT_EQ(a.batch, BatchId{41});
    const BatchName name = s.name_of(a.batch);
    EXPECT_EQ(name.view(), "b-node-1.run_7-41");
    EXPECT_STREQ(name.c_str(), "b-node-1.run_7-41");
    EXPECT_EQ(s.name_of(BatchId{1}).view(), "b-node-1.run_7-1");

    const std::string longest_prefix(k_max_prefix_size, 'x');
    Sequencer big({.prefix = longest_prefix});
    const BatchName max_name = big.name_of(BatchId{std::numeric_limits<std::uint64_t>::max()});
    EXPECT_EQ(max_name.view(), "b-" + longest_prefix + "-18446744073709551615");
    EXPECT_EQ(max_name.view().size(), k_max_batch_name_size);
}

TEST(Sequencer, RejectsBadSettingsWithAUsefulMessage) {
    using ::testing::HasSubstr;
    auto message_of = [](SequencerConfig c) -> std::string {
        try {
            Sequencer s(c);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "(no error)";
    };
    EXPECT_THAT(message_of({.prefix = ""}), HasSubstr("prefix must be 1 to 32 characters"));
    EXPECT_THAT(message_of({.prefix = "has space"}), HasSubstr("got \"has space\""));
    EXPECT_THAT(message_of({.prefix = std::string(33, 'a')}), HasSubstr("prefix"));
    EXPECT_THAT(message_of({.prefix = "p", .window = 0ns}), HasSubstr("BATCH_WINDOW_MS"));
    EXPECT_THAT(message_of({.prefix = "p", .window = -5s}), HasSubstr("BATCH_WINDOW_MS"));
    EXPECT_THAT(message_of({.prefix = "p", .max_batch_size = 0}), HasSubstr("MAX_BATCH_SIZE"));
    EXPECT_THAT(message_of({.prefix = "p", .first_batch = 0}), HasSubstr("first batch number"));
    EXPECT_EQ(message_of({.prefix = "p", .window = 1ns, .max_batch_size = 1}), "(no error)");
}

// ---- properties over random arrival patterns ----

struct Event {
    enum Kind : std::uint8_t { job, closed } kind;
    std::uint64_t batch;
    std::uint32_t seq_or_size;
    CloseReason reason;
    std::int64_t opened_ns;
    std::int64_t closed_ns;
    bool operator==(const Event&) const = default;
};

struct Arrivals {
    std::vector<std::int64_t> times;  // nondecreasing
    std::int64_t end;                 // when the stream ends (flush time)
};

Arrivals random_arrivals(std::mt19937_64& rng, std::int64_t window_ns, std::size_t count) {
    auto uniform = [&rng](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    Arrivals a;
    std::int64_t t = uniform(-1'000'000'000'000, 1'000'000'000'000);
    for (std::size_t i = 0; i < count; ++i) {
        const std::int64_t pick = uniform(0, 99);
        if (pick < 40) {
            // burst: same instant
        } else if (pick < 80) {
            t += uniform(1, std::max<std::int64_t>(1, window_ns / 50));
        } else if (pick < 95) {
            t += uniform(1, window_ns);
        } else {
            t += uniform(window_ns, 3 * window_ns);  // idle gap
        }
        a.times.push_back(t);
    }
    a.end = t + uniform(0, 2 * window_ns);
    return a;
}

// Feeds the arrivals in order; with `poll_rng`, also polls at random times in
// between (never past the next arrival). Returns every job and close in order.
std::vector<Event> run(const SequencerConfig& c, const Arrivals& arrivals,
                       std::mt19937_64* poll_rng) {
    Sequencer s(c);
    std::vector<Event> events;
    auto record_close = [&events](const BatchClosed& b) {
        events.push_back({Event::closed, b.batch.number, b.size, b.reason, b.opened_at.count(),
                          b.closed_at.count()});
    };
    std::int64_t previous = arrivals.times.empty() ? 0 : arrivals.times.front();
    auto maybe_poll_until = [&](std::int64_t until) {
        if (poll_rng == nullptr) return;
        while (std::uniform_int_distribution<int>(0, 2)(*poll_rng) == 0) {
            previous = std::uniform_int_distribution<std::int64_t>(previous, until)(*poll_rng);
            if (const auto closed = s.poll(nanoseconds(previous))) record_close(*closed);
        }
    };
    for (const std::int64_t t : arrivals.times) {
        maybe_poll_until(t);
        const Assignment a = s.assign(nanoseconds(t));
        previous = t;
        if (a.expired) record_close(*a.expired);
        events.push_back({Event::job, a.batch.number, a.seq, CloseReason::window, t, t});
        if (a.filled) record_close(*a.filled);
    }
    maybe_poll_until(arrivals.end);
    if (const auto closed = s.flush(nanoseconds(arrivals.end))) record_close(*closed);
    EXPECT_FALSE(s.open_batch().has_value());
    EXPECT_EQ(s.jobs_assigned(), arrivals.times.size());
    return events;
}

// Checks the batching against its specification, independently of how the
// sequencer computes it: batches are contiguous runs of arrivals numbered
// 1..N, each within one window of its first job, no larger than the maximum,
// and each closes as soon as (and only when) a rule says so.
void check_spec(const SequencerConfig& c, const Arrivals& arrivals,
                const std::vector<Event>& events) {
    const std::int64_t w = c.window.count();
    std::uint64_t expected_batch = c.first_batch;
    std::uint32_t expected_seq = 1;
    std::int64_t opened = 0;
    std::size_t job_index = 0;
    bool open = false;
    for (const Event& e : events) {
        if (e.kind == Event::job) {
            ASSERT_FALSE(!open && expected_seq != 1);
            if (!open) {
                open = true;
                opened = e.opened_ns;
            }
            ASSERT_EQ(e.opened_ns, arrivals.times[job_index]) << "jobs out of arrival order";
            ASSERT_EQ(e.batch, expected_batch) << "job " << job_index;
            ASSERT_EQ(e.seq_or_size, expected_seq) << "job " << job_index << ": gap in batch_seq";
            ASSERT_LT(e.opened_ns - opened, w) << "job outside its batch's window";
            ASSERT_LE(e.seq_or_size, c.max_batch_size);
            ++expected_seq;
            ++job_index;
            continue;
        }
        ASSERT_TRUE(open) << "a batch closed twice, or before it opened";
        ASSERT_EQ(e.batch, expected_batch);
        ASSERT_EQ(e.seq_or_size, expected_seq - 1) << "closed size differs from jobs numbered";
        ASSERT_EQ(e.opened_ns, opened);
        const bool more = job_index < arrivals.times.size();
        switch (e.reason) {
            case CloseReason::size:
                ASSERT_EQ(e.seq_or_size, c.max_batch_size);
                ASSERT_EQ(e.closed_ns, arrivals.times[job_index - 1]);
                break;
            case CloseReason::window:
                ASSERT_LT(e.seq_or_size, c.max_batch_size);
                ASSERT_EQ(e.closed_ns, opened + w);
                // It stayed open for the whole window: the next job came no sooner.
                if (more) {
                    ASSERT_GE(arrivals.times[job_index], opened + w);
                }
                break;
            case CloseReason::flush:
                ASSERT_FALSE(more) << "flush closed a batch before the stream ended";
                ASSERT_LT(arrivals.end - opened, w);
                ASSERT_EQ(e.closed_ns, arrivals.end);
                break;
        }
        // Maximality: a batch under the maximum closed only by window or flush,
        // so the next arrival (if any) could not have joined it.
        if (more && e.seq_or_size < c.max_batch_size) {
            ASSERT_GE(arrivals.times[job_index] - opened, w);
        }
        open = false;
        ++expected_batch;
        expected_seq = 1;
    }
    ASSERT_EQ(job_index, arrivals.times.size());
    ASSERT_FALSE(open) << "the last batch was never closed";
}

TEST(SequencerProperty, GapFreeNumberingAndWhicheverFirstOverRandomArrivals) {
    const SequencerConfig configs[] = {
        {.prefix = "a", .window = 5000ms, .max_batch_size = 500},
        {.prefix = "b", .window = 5000ms, .max_batch_size = 3},
        {.prefix = "c", .window = 1ms, .max_batch_size = 500},
        {.prefix = "d", .window = 7ns, .max_batch_size = 2},
        {.prefix = "e", .window = 250ms, .max_batch_size = 1},
        {.prefix = "f", .window = 5000ms, .max_batch_size = 40, .first_batch = 1'000'000},
    };
    std::uint64_t seed = 1;
    for (const SequencerConfig& c : configs) {
        for (int round = 0; round < 20; ++round, ++seed) {
            SCOPED_TRACE("prefix " + std::string(c.prefix) + ", seed " + std::to_string(seed));
            std::mt19937_64 rng(seed);
            const Arrivals arrivals = random_arrivals(rng, c.window.count(), 3000);
            std::mt19937_64 poll_rng(seed * 7919);
            const std::vector<Event> polled = run(c, arrivals, &poll_rng);
            check_spec(c, arrivals, polled);
            if (HasFatalFailure()) return;
            // Polling changes when a close is reported, never what was batched.
            const std::vector<Event> unpolled = run(c, arrivals, nullptr);
            check_spec(c, arrivals, unpolled);
            if (HasFatalFailure()) return;
            ASSERT_EQ(polled, unpolled);
        }
    }
}

TEST(SequencerProperty, SameInputTwiceGivesTheSameIdsAndSeqs) {
    const SequencerConfig c{.prefix = "run-42", .window = 5000ms, .max_batch_size = 17};
    std::mt19937_64 rng(2024);
    const Arrivals arrivals = random_arrivals(rng, c.window.count(), 5000);
    auto names = [&](const std::vector<Event>& events) {
        Sequencer s(c);
        std::vector<std::string> out;
        for (const Event& e : events) {
            if (e.kind == Event::job) out.emplace_back(s.name_of(BatchId{e.batch}).view());
        }
        return out;
    };
    std::mt19937_64 poll_a(1);
    std::mt19937_64 poll_b(1);
    const auto first = run(c, arrivals, &poll_a);
    const auto second = run(c, arrivals, &poll_b);
    ASSERT_EQ(first, second);
    ASSERT_EQ(names(first), names(second));
    EXPECT_EQ(names(first).front(), "b-run-42-1");
    EXPECT_GT(first.back().batch, 100u);  // the pattern really made many batches
}

}  // namespace
}  // namespace raregen::sequence
