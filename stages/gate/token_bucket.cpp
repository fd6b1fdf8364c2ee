#include "stages/gate/token_bucket.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace raregen::gate {
namespace {

// Exact elapsed time from `earlier` to `later` (later >= earlier): the true
// difference fits in 64 unsigned bits even when the signed one would not.
std::uint64_t elapsed_ns(std::int64_t earlier, std::int64_t later) {
    return static_cast<std::uint64_t>(later) - static_cast<std::uint64_t>(earlier);
}

TokenBucketConfig checked(TokenBucketConfig c) {
    if (c.capacity == 0 || c.capacity > k_max_capacity) {
        throw std::invalid_argument(
            "gate: token bucket capacity must be between 1 and " + std::to_string(k_max_capacity) +
            " tokens per period, got " + std::to_string(c.capacity) +
            "; set MAX_TX_PER_3S (or the gate's capacity flag) within that range");
    }
    if (c.period.count() <= 0) {
        throw std::invalid_argument("gate: token bucket period must be positive, got " +
                                    std::to_string(c.period.count()) +
                                    " ns; give the gate a refill period such as 3 s");
    }
    return c;
}

}  // namespace

TokenBucket::TokenBucket(TokenBucketConfig config)
    : m_capacity(checked(config).capacity),
      m_period_ns(config.period.count()),
      m_period(config.period),
      m_runs(config.capacity),
      m_hold(config.hold_until_settled),
      m_latest_ns(std::numeric_limits<std::int64_t>::min()) {}

std::int64_t TokenBucket::advance(std::chrono::nanoseconds now) {
    m_latest_ns = std::max(m_latest_ns, static_cast<std::int64_t>(now.count()));
    const auto period = static_cast<std::uint64_t>(m_period_ns);
    while (m_size > 0) {
        const Run& oldest = m_runs[m_head];
        if (elapsed_ns(oldest.at_ns, m_latest_ns) < period) break;
        m_outstanding -= oldest.tokens;
        m_head = slot(1);
        --m_size;
    }
    return m_latest_ns;
}

std::uint32_t TokenBucket::try_take(std::chrono::nanoseconds now, std::uint32_t n) {
    const std::int64_t t = advance(now);
    const std::uint32_t granted = std::min(n, m_capacity - m_outstanding);
    if (granted == 0) return 0;
    m_outstanding += granted;
    m_total_granted += granted;
    if (m_hold) {
        m_held += granted;  // the period starts at settle()
        return granted;
    }
    push_run(t, granted);
    return granted;
}

void TokenBucket::push_run(std::int64_t t, std::uint32_t tokens) {
    Run* newest = m_size > 0 ? &m_runs[slot(m_size - 1)] : nullptr;
    if (newest != nullptr && newest->at_ns == t) {
        newest->tokens += tokens;
    } else {
        // Cannot overflow the ring: every live run holds >= 1 of the at most
        // capacity outstanding tokens, and these are among them.
        m_runs[slot(m_size)] = Run{t, tokens};
        ++m_size;
    }
}

void TokenBucket::settle(std::chrono::nanoseconds now, std::uint32_t n) {
    n = std::min(n, m_held);
    if (n == 0) return;
    const std::int64_t t = advance(now);
    m_held -= n;
    push_run(t, n);
}

std::uint32_t TokenBucket::available(std::chrono::nanoseconds now) {
    advance(now);
    return m_capacity - m_outstanding;
}

std::chrono::nanoseconds TokenBucket::next_token_at(std::chrono::nanoseconds now, std::uint32_t n) {
    const std::int64_t t = advance(now);
    const std::uint32_t want = std::min(n, m_capacity);
    std::uint32_t have = m_capacity - m_outstanding;
    if (have >= want) return std::chrono::nanoseconds(t);
    // Runs return oldest first; the one that brings `have` up to `want` sets
    // the time. Without held tokens the loop ends inside the ring because all
    // runs together return the bucket to capacity >= want; held tokens have
    // no time until they are settled.
    for (std::uint32_t i = 0; i < m_size; ++i) {
        const Run& run = m_runs[slot(i)];
        have += run.tokens;
        if (have >= want) {
            constexpr std::int64_t k_max = std::numeric_limits<std::int64_t>::max();
            const std::int64_t back =
                run.at_ns > k_max - m_period_ns ? k_max : run.at_ns + m_period_ns;
            return std::chrono::nanoseconds(back);
        }
    }
    return std::chrono::nanoseconds::max();
}

}  // namespace raregen::gate
