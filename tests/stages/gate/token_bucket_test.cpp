#include "stages/gate/token_bucket.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace raregen::gate {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

struct Grant {
    std::int64_t at_ns;
    std::uint32_t tokens;
};

// Brute force: the largest number of tokens granted inside any half-open
// window [a, a + period). A window holding the most grants can always be slid
// right until it starts at a grant, so only windows starting at grants are
// checked. `grants` must be in time order.
std::uint64_t max_in_any_window(const std::vector<Grant>& grants, nanoseconds period) {
    std::uint64_t best = 0;
    std::uint64_t in_window = 0;
    std::size_t end = 0;
    for (std::size_t start = 0; start < grants.size(); ++start) {
        while (end < grants.size() && grants[end].at_ns - grants[start].at_ns < period.count()) {
            in_window += grants[end].tokens;
            ++end;
        }
        best = std::max(best, in_window);
        in_window -= grants[start].tokens;
    }
    return best;
}

// Tokens granted at times in [from, to).
std::uint64_t granted_between(const std::vector<Grant>& grants, nanoseconds from, nanoseconds to) {
    std::uint64_t sum = 0;
    for (const Grant& g : grants) {
        if (g.at_ns >= from.count() && g.at_ns < to.count()) sum += g.tokens;
    }
    return sum;
}

// The definition of the limit, written the slow way: what a window-safe greedy
// limiter may grant at `now` given every earlier grant (all at or before now,
// in time order): capacity minus what was granted in (now - period, now].
std::uint32_t reference_available(const std::vector<Grant>& grants, std::uint32_t capacity,
                                  nanoseconds period, std::int64_t now_ns) {
    std::uint64_t recent = 0;
    for (auto g = grants.rbegin(); g != grants.rend() && now_ns - g->at_ns < period.count(); ++g) {
        recent += g->tokens;
    }
    return capacity - static_cast<std::uint32_t>(recent);
}

TEST(WindowChecker, CatchesAnOverfullWindow) {
    // The checker must be able to fail, or the property tests prove nothing.
    const std::vector<Grant> over{{0, 500}, {2'999'999'999, 1}};
    EXPECT_EQ(max_in_any_window(over, 3s), 501u);
    const std::vector<Grant> ok{{0, 500}, {3'000'000'000, 1}};
    EXPECT_EQ(max_in_any_window(ok, 3s), 500u);
    const std::vector<Grant> sliding{{0, 100}, {1'000'000'000, 300}, {3'500'000'000, 150}};
    EXPECT_EQ(max_in_any_window(sliding, 3s), 450u);
}

TEST(TokenBucket, DefaultsAreTheSeedsMaxTxPer3s) {
    TokenBucket bucket;
    EXPECT_EQ(bucket.capacity(), 500u);
    EXPECT_EQ(bucket.period(), 3s);
    EXPECT_EQ(bucket.available(0ns), 500u);
}

TEST(TokenBucket, StartsFullAndGrantsAtMostWhatIsLeft) {
    TokenBucket bucket({.capacity = 10, .period = 1s});
    EXPECT_EQ(bucket.try_take(0ns, 4), 4u);
    EXPECT_EQ(bucket.available(0ns), 6u);
    EXPECT_EQ(bucket.try_take(0ns, 100), 6u);  // partial grant
    EXPECT_EQ(bucket.try_take(0ns, 1), 0u);
    EXPECT_EQ(bucket.try_take(0ns, 0), 0u);
    EXPECT_EQ(bucket.total_granted(), 10u);
}

TEST(TokenBucket, EachTokenReturnsExactlyOnePeriodAfterItsGrant) {
    TokenBucket bucket;  // 500 per 3 s
    EXPECT_EQ(bucket.try_take(0ns, 100), 100u);
    EXPECT_EQ(bucket.try_take(1s, 250), 250u);
    EXPECT_EQ(bucket.try_take(2s, 500), 150u);

    EXPECT_EQ(bucket.available(3s - 1ns), 0u);
    EXPECT_EQ(bucket.available(3s), 100u);
    EXPECT_EQ(bucket.available(4s - 1ns), 100u);
    EXPECT_EQ(bucket.available(4s), 350u);
    EXPECT_EQ(bucket.available(5s), 500u);
}

TEST(TokenBucket, BurstThenBacklogNeverExceedsCapacityInOnePeriod) {
    // The case a continuously refilled bucket gets wrong: drain at 0, then ask
    // every millisecond. A classic bucket would grant ~499 more before 3 s.
    TokenBucket bucket;
    std::vector<Grant> grants;
    for (nanoseconds t = 0ns; t < 9s; t += 1ms) {
        if (const std::uint32_t g = bucket.try_take(t, 500); g > 0)
            grants.push_back({t.count(), g});
    }
    EXPECT_EQ(granted_between(grants, 0s, 3s), 500u);
    EXPECT_EQ(granted_between(grants, 1ns, 3s), 0u);
    EXPECT_EQ(granted_between(grants, 3s, 6s), 500u);
    EXPECT_EQ(max_in_any_window(grants, 3s), 500u);
}

TEST(TokenBucket, NextTokenAtNamesTheInstantTokensReturn) {
    TokenBucket bucket;
    EXPECT_EQ(bucket.next_token_at(5s), 5s);  // available now
    bucket.try_take(10s, 100);
    bucket.try_take(11s, 300);
    bucket.try_take(12s, 100);
    EXPECT_EQ(bucket.next_token_at(12s), 13s);
    EXPECT_EQ(bucket.next_token_at(12s, 100), 13s);
    EXPECT_EQ(bucket.next_token_at(12s, 101), 14s);
    EXPECT_EQ(bucket.next_token_at(12s, 400), 14s);
    EXPECT_EQ(bucket.next_token_at(12s, 401), 15s);
    EXPECT_EQ(bucket.next_token_at(12s, 500), 15s);
    EXPECT_EQ(bucket.next_token_at(12s, 100000), 15s);  // more than capacity: all of it
    EXPECT_EQ(bucket.next_token_at(12s, 0), 12s);
    EXPECT_EQ(bucket.next_token_at(13s + 500ms, 150), 14s);
    EXPECT_EQ(bucket.available(14s), 400u);
}

TEST(TokenBucket, CapacityOneAlternates) {
    TokenBucket bucket({.capacity = 1, .period = 3s});
    EXPECT_EQ(bucket.try_take(0ns, 5), 1u);
    EXPECT_EQ(bucket.try_take(0ns, 1), 0u);
    EXPECT_EQ(bucket.next_token_at(1s), 3s);
    EXPECT_EQ(bucket.try_take(3s - 1ns, 1), 0u);
    EXPECT_EQ(bucket.try_take(3s, 1), 1u);
    EXPECT_EQ(bucket.try_take(5s, 1), 0u);
    EXPECT_EQ(bucket.try_take(7s, 1), 1u);  // late: the next one is due at 10 s, not 9 s
    EXPECT_EQ(bucket.next_token_at(7s), 10s);
    EXPECT_EQ(bucket.total_granted(), 3u);
}

TEST(TokenBucket, LongIdleRefillsToCapacityAndNoFurther) {
    TokenBucket bucket;
    EXPECT_EQ(bucket.try_take(0ns, 500), 500u);
    const nanoseconds later = std::chrono::hours(24 * 365 * 100);  // a century idle
    EXPECT_EQ(bucket.available(later), 500u);
    EXPECT_EQ(bucket.try_take(later, 1'000'000), 500u);
    EXPECT_EQ(bucket.try_take(later, 1), 0u);
    EXPECT_EQ(bucket.next_token_at(later), later + 3s);
}

TEST(TokenBucket, ExtremeTimestampsNeitherOverflowNorWrap) {
    constexpr auto k_min = nanoseconds(std::numeric_limits<std::int64_t>::min());
    constexpr auto k_max = nanoseconds(std::numeric_limits<std::int64_t>::max());
    TokenBucket bucket;
    EXPECT_EQ(bucket.try_take(k_min, 500), 500u);
    EXPECT_EQ(bucket.next_token_at(k_min), k_min + 3s);
    EXPECT_EQ(bucket.available(k_max - 1s), 500u);  // 2^64 - 1 s elapsed, computed exactly
    EXPECT_EQ(bucket.try_take(k_max - 1s, 500), 500u);
    EXPECT_EQ(bucket.next_token_at(k_max - 1s), k_max);  // would be k_max + 2 s: saturates
    EXPECT_EQ(bucket.available(k_max), 0u);
}

TEST(TokenBucket, TimeGoingBackwardsIsTreatedAsTheLatestTimeSeen) {
    TokenBucket bucket;
    EXPECT_EQ(bucket.try_take(10s, 500), 500u);
    // An earlier `now` cannot bring tokens back early, and says so.
    EXPECT_EQ(bucket.try_take(5s, 1), 0u);
    EXPECT_EQ(bucket.available(5s), 0u);
    EXPECT_EQ(bucket.next_token_at(5s), 13s);
    EXPECT_EQ(bucket.available(13s), 500u);
    // Seen 14 s, then handed 11 s: the grant counts as made at 14 s, so its
    // tokens come back at 17 s, never at 14 s.
    EXPECT_EQ(bucket.available(14s), 500u);
    EXPECT_EQ(bucket.try_take(11s, 500), 500u);
    EXPECT_EQ(bucket.next_token_at(11s), 17s);
    EXPECT_EQ(bucket.available(17s - 1ns), 0u);
    EXPECT_EQ(bucket.available(17s), 500u);
}

TEST(TokenBucket, RejectsImpossibleSettingsWithAUsefulMessage) {
    using ::testing::HasSubstr;
    auto message_of = [](TokenBucketConfig c) -> std::string {
        try {
            TokenBucket bucket(c);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "(no error)";
    };
    EXPECT_THAT(message_of({.capacity = 0, .period = 3s}), HasSubstr("capacity must be between 1"));
    EXPECT_THAT(message_of({.capacity = k_max_capacity + 1, .period = 3s}),
                HasSubstr("got 1048577"));
    EXPECT_THAT(message_of({.capacity = 500, .period = 0ns}), HasSubstr("period must be positive"));
    EXPECT_THAT(message_of({.capacity = 500, .period = -1s}), HasSubstr("period must be positive"));
    EXPECT_EQ(message_of({.capacity = k_max_capacity, .period = 1ns}), "(no error)");
}

// ---- properties over long randomized runs ----

struct Shape {
    std::uint32_t capacity;
    nanoseconds period;
};

// Drives a bucket with random steps (1..500 ms, bursts at one instant, idle
// gaps of up to 10 periods, the odd step backwards) and take sizes 1..C, and
// checks every call against the reference and every window against C.
void run_random_pattern(Shape shape, std::uint32_t seed, nanoseconds run_length) {
    SCOPED_TRACE("capacity " + std::to_string(shape.capacity) + ", period " +
                 std::to_string(shape.period.count()) + " ns, seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto uniform = [&rng](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    TokenBucket bucket({.capacity = shape.capacity, .period = shape.period});
    std::vector<Grant> grants;
    std::int64_t now = uniform(-1'000'000'000'000, 1'000'000'000'000);  // any epoch
    const std::int64_t end = now + run_length.count();
    std::int64_t latest = now;
    std::uint64_t total = 0;
    std::uint64_t calls = 0;

    while (now < end) {
        const std::int64_t pick = uniform(0, 99);
        if (pick < 60) {
            now += uniform(1'000'000, 500'000'000);  // 1 ms .. 500 ms
        } else if (pick < 70) {
            // Land on the edge where the oldest grant in the window comes back
            // (1 ns before, at, or 1 ns after), where an off-by-one would show.
            const Grant* oldest = nullptr;
            for (auto g = grants.rbegin();
                 g != grants.rend() && latest - g->at_ns < shape.period.count(); ++g) {
                oldest = &*g;
            }
            if (oldest != nullptr)
                now = std::max(now, oldest->at_ns + shape.period.count() + uniform(-1, 1));
        } else if (pick < 90) {
            // burst: another call at the same instant
        } else if (pick < 95) {
            now += uniform(shape.period.count(), 10 * shape.period.count());  // idle gap
        } else {
            now += uniform(1, 999'999);  // sub-millisecond step
        }
        // Occasionally hand the bucket an earlier time than it has seen.
        const std::int64_t handed = uniform(0, 49) == 0 ? now - uniform(1, 2'000'000'000) : now;
        latest = std::max(latest, handed);

        const auto n = static_cast<std::uint32_t>(
            uniform(0, 3) == 0 ? 1 : uniform(1, static_cast<std::int64_t>(shape.capacity)));
        const std::uint32_t expected =
            std::min(n, reference_available(grants, shape.capacity, shape.period, latest));

        if (uniform(0, 7) == 0) {
            // next_token_at must name the first instant enough tokens are back.
            const auto want =
                static_cast<std::uint32_t>(uniform(1, static_cast<std::int64_t>(shape.capacity)));
            // Moves the bucket to `latest`, as the try_take below would anyway.
            const nanoseconds at = bucket.next_token_at(nanoseconds(handed), want);
            ASSERT_GE(at.count(), latest);
            ASSERT_GE(reference_available(grants, shape.capacity, shape.period, at.count()), want);
            if (at.count() > latest) {
                ASSERT_LT(reference_available(grants, shape.capacity, shape.period, at.count() - 1),
                          want);
            }
        }

        const std::uint32_t got = bucket.try_take(nanoseconds(handed), n);
        ++calls;
        ASSERT_EQ(got, expected) << "call " << calls << " at " << latest << " ns asking " << n;
        if (got > 0) grants.push_back({latest, got});
        total += got;
        // Check windows in chunks, then drop grants a period or more before
        // `latest`: no later grant can share a window with them.
        if (grants.size() > 4096) {
            ASSERT_LE(max_in_any_window(grants, shape.period), shape.capacity);
            std::erase_if(grants,
                          [&](const Grant& g) { return latest - g.at_ns >= shape.period.count(); });
        }
    }
    ASSERT_LE(max_in_any_window(grants, shape.period), shape.capacity);
    EXPECT_EQ(bucket.total_granted(), total);
    EXPECT_GT(total, 0u);
}

TEST(TokenBucketProperty, NoWindowOfOnePeriodEverHoldsMoreThanCapacity) {
    const Shape shapes[] = {
        {500, 3s},             // the seed's setting
        {1, 3s},               // one token
        {7, 1s},               // capacity not dividing the period
        {3, 1s + 7ns},         // an odd period
        {64, 250ms},           // period shorter than the largest step
        {k_max_capacity, 3s},  // the largest bucket
    };
    std::uint32_t seed = 1;
    for (const Shape& shape : shapes) {
        for (int round = 0; round < 8; ++round) {
            run_random_pattern(shape, seed++, std::chrono::minutes(15));
            if (HasFatalFailure()) return;
        }
    }
}

// Always-backlogged caller: returns the grants made in [0, run).
template <typename NextTime>
std::vector<Grant> run_backlog(TokenBucket& bucket, nanoseconds run, std::uint32_t per_call,
                               NextTime next_time) {
    std::vector<Grant> grants;
    nanoseconds t = 0ns;
    while (t < run) {
        const std::uint32_t got = bucket.try_take(t, per_call);
        if (got > 0) {
            grants.push_back({t.count(), got});
        } else {
            t = next_time(bucket, t);
        }
    }
    return grants;
}

std::uint64_t total_of(const std::vector<Grant>& grants) {
    std::uint64_t sum = 0;
    for (const Grant& g : grants)
        sum += g.tokens;
    return sum;
}

TEST(TokenBucketRate, ParkingUntilNextTokenAtGivesExactlyCapacityPerPeriod) {
    TokenBucket bucket;
    const auto grants =
        run_backlog(bucket, std::chrono::minutes(10), 500,
                    [](TokenBucket& b, nanoseconds t) { return b.next_token_at(t); });
    // 200 periods in 10 minutes, 500 each, to the token: no drift.
    EXPECT_EQ(total_of(grants), 200u * 500u);
    EXPECT_EQ(max_in_any_window(grants, 3s), 500u);
}

TEST(TokenBucketRate, ExactOverAnOddPeriodToo) {
    TokenBucket bucket({.capacity = 7, .period = 1s + 1ns});
    const auto grants =
        run_backlog(bucket, 10'000 * (1s + 1ns), 1,
                    [](TokenBucket& b, nanoseconds t) { return b.next_token_at(t); });
    EXPECT_EQ(total_of(grants), 70'000u);
    EXPECT_EQ(max_in_any_window(grants, 1s + 1ns), 7u);
}

TEST(TokenBucketRate, OneAtATimeWithWakeUpLatencySustainsOver99Percent) {
    // Each wake-up lands 0..1 ms after next_token_at(), as a parked thread would.
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<std::int64_t> latency(0, 1'000'000);
    TokenBucket bucket;
    const nanoseconds run = std::chrono::minutes(10);
    const auto grants = run_backlog(bucket, run, 1, [&](TokenBucket& b, nanoseconds t) {
        return b.next_token_at(t) + nanoseconds(latency(rng));
    });
    const double rate = static_cast<double>(total_of(grants)) / 600.0;
    ::testing::Test::RecordProperty("tokens_per_second", std::to_string(rate));
    EXPECT_GE(rate, 0.99 * 500.0 / 3.0);
    EXPECT_LE(total_of(grants), 200u * 500u);
    EXPECT_LE(max_in_any_window(grants, 3s), 500u);
}

TEST(TokenBucketRate, FixedPollingTickSustainsOver99Percent) {
    // A 7 ms tick does not divide 3 s, so tokens wait up to 7 ms per cycle.
    TokenBucket bucket;
    const nanoseconds run = std::chrono::minutes(10);
    const auto grants =
        run_backlog(bucket, run, 500, [](TokenBucket&, nanoseconds t) { return t + 7ms; });
    const double rate = static_cast<double>(total_of(grants)) / 600.0;
    ::testing::Test::RecordProperty("tokens_per_second", std::to_string(rate));
    EXPECT_GE(rate, 0.99 * 500.0 / 3.0);
    EXPECT_LE(max_in_any_window(grants, 3s), 500u);
}

TEST(TokenBucketRate, CoarseRandomPollingLosesAtMostOneStepPerCycle) {
    // Steps of 1..500 ms: each token's cycle is at most period + 500 ms, so
    // every token is granted at least ceil(run / 3.5 s) times. This is why the
    // gate thread parks until next_token_at() rather than polling.
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<std::int64_t> step(1'000'000, 500'000'000);
    TokenBucket bucket;
    const nanoseconds run = std::chrono::minutes(10);
    const auto grants = run_backlog(
        bucket, run, 500, [&](TokenBucket&, nanoseconds t) { return t + nanoseconds(step(rng)); });
    const std::uint64_t cycles = (run.count() + 3'500'000'000 - 1) / 3'500'000'000;
    EXPECT_GE(total_of(grants), 500u * cycles);
    EXPECT_LE(max_in_any_window(grants, 3s), 500u);
    ::testing::Test::RecordProperty("tokens_per_second",
                                    std::to_string(static_cast<double>(total_of(grants)) / 600.0));
}

}  // namespace
}  // namespace raregen::gate

namespace raregen::gate {
namespace {

TEST(TokenBucketHeld, AHeldTokenReturnsOnePeriodAfterItIsSettledNotAfterItsGrant) {
    TokenBucket b({.capacity = 3, .period = 3s, .hold_until_settled = true});
    EXPECT_EQ(b.try_take(0s, 3), 3u);
    EXPECT_EQ(b.held(), 3u);
    // Unsettled: no time is known, however long it waits.
    EXPECT_EQ(b.available(60s), 0u);
    EXPECT_EQ(b.next_token_at(60s), nanoseconds::max());
    b.settle(61s, 2);
    EXPECT_EQ(b.held(), 1u);
    EXPECT_EQ(b.available(64s - 1ns), 0u);
    EXPECT_EQ(b.next_token_at(62s, 2), 64s);
    EXPECT_EQ(b.next_token_at(62s, 3), nanoseconds::max());  // the third is still held
    EXPECT_EQ(b.available(64s), 2u);
    // Settling more than is held settles what is held.
    b.settle(65s, 10);
    EXPECT_EQ(b.held(), 0u);
    EXPECT_EQ(b.available(68s), 3u);
}

// The point of held tokens: whatever the delay between a grant and the
// network's acceptance (a_i) and its answer (s_i >= a_i), no window of one
// period holds more than capacity ACCEPTANCES. Random delays, answers in a
// different order than grants, a backlogged caller.
TEST(TokenBucketHeld, AcceptancesNeverExceedCapacityInAnyWindowWhateverTheLatency) {
    for (std::uint32_t seed = 1; seed <= 20; ++seed) {
        std::mt19937_64 rng(seed);
        const std::uint32_t capacity = 1 + static_cast<std::uint32_t>(rng() % 50);
        const nanoseconds period = 1s;
        TokenBucket b({.capacity = capacity, .period = period, .hold_until_settled = true});
        std::uniform_int_distribution<std::int64_t> delay_ns(0, 2'000'000'000);  // up to 2 periods
        struct InFlight {
            std::int64_t accepted, answered;
        };
        std::vector<InFlight> flying;
        std::vector<Grant> accepted;
        std::int64_t t = 0;
        while (t < 60'000'000'000) {
            // Answers due by now are settled, in answer order.
            std::sort(flying.begin(), flying.end(),
                      [](const InFlight& x, const InFlight& y) { return x.answered < y.answered; });
            std::size_t done = 0;
            while (done < flying.size() && flying[done].answered <= t) {
                b.settle(nanoseconds(flying[done].answered), 1);
                ++done;
            }
            flying.erase(flying.begin(), flying.begin() + static_cast<std::ptrdiff_t>(done));
            const std::uint32_t got =
                b.try_take(nanoseconds(t), 1 + static_cast<std::uint32_t>(rng() % 5));
            for (std::uint32_t i = 0; i < got; ++i) {
                const std::int64_t a = t + delay_ns(rng) / 2;
                flying.push_back({a, a + delay_ns(rng) / 2});
                accepted.push_back({a, 1});
            }
            t += 1 + static_cast<std::int64_t>(rng() % 20'000'000);
        }
        std::sort(accepted.begin(), accepted.end(),
                  [](const Grant& x, const Grant& y) { return x.at_ns < y.at_ns; });
        ASSERT_LE(max_in_any_window(accepted, period), capacity) << "seed " << seed;
        ASSERT_GT(accepted.size(), 20u * capacity) << "seed " << seed << ": the bucket starved";
    }
}

// Without holding, the same latencies break the window at the network: the
// check above can fail (it is not a tautology of the test's construction).
TEST(TokenBucketHeld, WithoutHoldingVariableLatencyOverfillsAWindow) {
    std::mt19937_64 rng(3);
    TokenBucket b({.capacity = 10, .period = 1s});
    std::vector<Grant> accepted;
    std::uniform_int_distribution<std::int64_t> delay_ns(0, 900'000'000);
    for (std::int64_t t = 0; t < 30'000'000'000; t += 1'000'000) {
        const std::uint32_t got = b.try_take(nanoseconds(t), 10);
        for (std::uint32_t i = 0; i < got; ++i)
            accepted.push_back({t + delay_ns(rng), 1});
    }
    std::sort(accepted.begin(), accepted.end(),
              [](const Grant& x, const Grant& y) { return x.at_ns < y.at_ns; });
    EXPECT_GT(max_in_any_window(accepted, 1s), 10u);
}

}  // namespace
}  // namespace raregen::gate
