#pragma once
// The rate gate's bucket: at most `capacity` tokens in any window of length
// `period`, bursts up to `capacity`, time handed in by the caller.
//
// Why not the textbook bucket (continuous refill at capacity/period, capped at
// capacity)? Because it breaks the gate's invariant: drain a full bucket at t,
// and by t + period - 1 ns it has refilled capacity - 1 more, so one window of
// length `period` sees 2 * capacity - 1 grants. Shrinking the burst to keep
// the window honest would cap bursts at 1% of capacity for a 99% rate.
//
// So each granted token comes back exactly `period` after it was granted (a
// sliding-window log, kept as runs of tokens granted at the same instant).
// That is exact integer arithmetic on nanoseconds, with these properties:
//   * Safety: for every half-open window [a, a + period) the grants in it sum
//     to at most capacity. (For a closed window, build with period + 1 ns.)
//   * Greedy optimality: each call grants as many tokens as safety allows
//     given the earlier grants, so no limiter that keeps the safety property
//     can grant more, sooner, for the same sequence of calls.
//   * Rate: a caller that always has work and comes back at next_token_at()
//     gets exactly capacity per period. Coming back d late delays those
//     tokens' next return by d (inherent to the window limit, by the point
//     above), so a gate thread should park until next_token_at() rather than
//     poll on a coarse tick: 1 ms of wake-up lateness costs at most 0.03% of
//     500 per 3 s, while polling every 1..500 ms (random) gave 95% in the
//     tests and can fall to 3 s / 3.5 s = 86%.
//
// Time: `now` is any monotonic clock's reading (the runner passes
// steady_clock). The bucket's own timeline is the running maximum of the
// `now` values it has been given: a `now` earlier than one already seen is
// treated as that latest time. A clock stepping back therefore never makes a
// token return earlier than it would have; within the bucket's timeline the
// safety property always holds.
//
// Threads: none of its own, no locks, no atomics. One thread owns a bucket at
// a time (the gate thread); every member, including the queries, updates
// internal state and must not race with any other call. Handing a bucket to
// another thread needs the usual happens-before (e.g. a channel or join).
//
// Memory: one array of `capacity` runs (16 bytes each) allocated by the
// constructor; no call allocates afterwards. Every call is O(1) amortized,
// except next_token_at(now, n) which walks at most the runs it needs.
//
// Held tokens (config.hold_until_settled): a granted token does not start
// its period at the grant but when settle() is called for it, i.e. when the
// network has answered for the transaction it let out. The window guarantee
// then holds for what the NETWORK receives, whatever the latency between
// the gate and the network's acceptance and however it varies (a batch
// delayed by a retry cannot land in the next window's burst): each token's
// next use is granted at least one period after the network's answer to its
// last use, which came after that use was accepted. The cost is the answer
// latency added to every token's cycle (capacity per period + latency).
// Until settled, a held token has no return time: next_token_at() answers
// nanoseconds::max() when only held tokens could make up the request.
//
// Sharing one limit across engine instances (tokens leased in blocks from
// Postgres) composes on top: a leased block is a try_take of that size.

#include <chrono>
#include <cstdint>
#include <vector>

namespace raregen::gate {

// The seed's MAX_TX_PER_3S: 500 tokens per 3 seconds (166.67 per second).
inline constexpr std::uint32_t k_default_capacity = 500;
inline constexpr std::chrono::nanoseconds k_default_period = std::chrono::seconds(3);
// The run array costs 16 bytes per token of capacity; this bounds it at 16 MiB.
inline constexpr std::uint32_t k_max_capacity = 1u << 20;

struct TokenBucketConfig {
    std::uint32_t capacity = k_default_capacity;         // 1 .. k_max_capacity
    std::chrono::nanoseconds period = k_default_period;  // > 0
    bool hold_until_settled = false;  // a token's period starts at settle(), not at the grant
};

class TokenBucket {
  public:
    // Starts full: `capacity` tokens available at any first `now`.
    // Throws std::invalid_argument (start-up only) if capacity is 0 or above
    // k_max_capacity, or if period is not positive; the message says which
    // setting to change.
    explicit TokenBucket(TokenBucketConfig config = {});

    // Grants min(n, available(now)) tokens at `now` and returns how many.
    // Never blocks; n == 0 returns 0. A partial grant is still a grant: the
    // caller owns those tokens and should use them (or lose them for a period).
    std::uint32_t try_take(std::chrono::nanoseconds now, std::uint32_t n = 1);

    // Tokens a try_take(now, ...) would grant at most.
    std::uint32_t available(std::chrono::nanoseconds now);

    // The earliest time t >= now (in the bucket's timeline) at which at least
    // min(n, capacity) tokens are available, assuming no grant in between.
    // Returns now itself when they are available already (and for n == 0).
    // A time past the clock's end saturates at nanoseconds::max().
    std::chrono::nanoseconds next_token_at(std::chrono::nanoseconds now, std::uint32_t n = 1);

    // Held mode: `n` granted tokens (their transactions answered) start their
    // period at `now`; more than are held are ignored. Settling in a
    // different order than granting is fine: held tokens are fungible.
    void settle(std::chrono::nanoseconds now, std::uint32_t n);
    std::uint32_t held() const { return m_held; }

    std::uint32_t capacity() const { return m_capacity; }
    std::chrono::nanoseconds period() const { return m_period; }
    // Every token ever granted (for the gate's out-counter and tests).
    std::uint64_t total_granted() const { return m_total_granted; }

  private:
    // Tokens granted together at one instant; they all return at `at + period`.
    struct Run {
        std::int64_t at_ns;
        std::uint32_t tokens;
    };

    // Moves the timeline to max(latest, now), retires the runs whose period
    // has run out, and returns the (clamped) time in nanoseconds.
    std::int64_t advance(std::chrono::nanoseconds now);
    void push_run(std::int64_t t, std::uint32_t tokens);
    std::uint32_t slot(std::uint32_t i) const {
        const std::uint32_t s = m_head + i;  // < 2 * capacity <= 2^21: no overflow
        return s >= m_capacity ? s - m_capacity : s;
    }

    std::uint32_t m_capacity;
    std::int64_t m_period_ns;
    std::chrono::nanoseconds m_period;
    // Ring of runs, oldest first. Each run holds >= 1 token and the live runs
    // hold m_outstanding <= capacity tokens in total, so capacity slots suffice.
    std::vector<Run> m_runs;
    std::uint32_t m_head = 0;
    std::uint32_t m_size = 0;
    std::uint32_t m_outstanding = 0;  // tokens granted within the last period, or held
    std::uint32_t m_held = 0;         // held mode: granted, not yet settled (no run yet)
    bool m_hold;
    std::int64_t m_latest_ns;  // running maximum of `now`
    std::uint64_t m_total_granted = 0;
};

}  // namespace raregen::gate
