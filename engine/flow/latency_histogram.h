#pragma once
// LatencyHistogram: durations for reports and metrics (p50/p99): intake to
// sent in the send stage, one ARC request in the ARC client. Log-linear
// buckets (16 per power of two of microseconds, so a quantile is within ~6%
// of the truth) from 1 us to 2^39 us (six days), in a fixed array: record()
// never allocates.
//
// Threads: record() from any thread; quantile()/count() from any thread
// (relaxed atomics: a report taken while running is approximate, one taken
// after the writers stopped is exact).

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>

namespace raregen::flow {

class LatencyHistogram {
  public:
    void record(std::chrono::nanoseconds d) noexcept {
        const auto us = static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count() / 1000);
        m_buckets[index_of(us)].fetch_add(1, std::memory_order_relaxed);
        m_count.fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t count() const noexcept { return m_count.load(std::memory_order_relaxed); }
    // The q-quantile (0 < q <= 1) as the upper edge of its bucket; 0 if empty.
    std::chrono::microseconds quantile(double q) const noexcept {
        const std::uint64_t n = count();
        if (n == 0) return std::chrono::microseconds(0);
        auto rank = static_cast<std::uint64_t>(q * static_cast<double>(n));
        if (rank == 0) rank = 1;
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < k_buckets; ++i) {
            seen += m_buckets[i].load(std::memory_order_relaxed);
            if (seen >= rank) return std::chrono::microseconds(upper_edge(i));
        }
        return std::chrono::microseconds(upper_edge(k_buckets - 1));
    }

  private:
    static constexpr std::size_t k_sub = 16;  // buckets per power of two
    static constexpr std::size_t k_powers = 36;
    static constexpr std::size_t k_buckets = k_sub * k_powers;

    static std::size_t index_of(std::uint64_t us) noexcept {
        if (us < k_sub) return static_cast<std::size_t>(us);
        const auto p = static_cast<int>(std::bit_width(us)) - 1;  // us in [2^p, 2^(p+1)), p >= 4
        const std::uint64_t sub = (us >> (p - 4)) & (k_sub - 1);
        const std::size_t i =
            static_cast<std::size_t>(p - 3) * k_sub + static_cast<std::size_t>(sub);
        return i < k_buckets ? i : k_buckets - 1;
    }
    static std::uint64_t upper_edge(std::size_t i) noexcept {
        if (i < k_sub) return i + 1;
        const std::size_t p = i / k_sub + 3;
        const std::uint64_t sub = i % k_sub;
        return (std::uint64_t{1} << p) + ((sub + 1) << (p - 4));
    }

    std::array<std::atomic<std::uint64_t>, k_buckets> m_buckets{};
    std::atomic<std::uint64_t> m_count{0};
};

}  // namespace raregen::flow
