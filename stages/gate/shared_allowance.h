#pragma once
// SharedAllowance: the tokens of the deployment-wide rate limit this engine
// holds right now, between the thread that leases them from the database
// (service/rate/shared_rate.h) and the gate stage that spends them.
//
// With an allowance, a job leaves the gate only with a token from its own
// bucket (the per-engine limit, exact in any window) AND one from here (the
// limit every engine on the database shares). The gate says how many jobs
// wait for a token (demand), so the lease thread sizes its slices to it and
// gives unspent tokens back when demand falls to zero.
//
// Threads: try_take() and set_demand() from the gate's runner thread;
// grant(), revoke(), available() and demand() from any thread. Lock-free,
// allocation-free.

#include <atomic>
#include <cstdint>

namespace raregen::gate {

class SharedAllowance {
  public:
    // One token, if any is held.
    bool try_take() noexcept {
        std::uint64_t n = m_available.load(std::memory_order_acquire);
        while (n > 0) {
            if (m_available.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel)) return true;
        }
        return false;
    }
    // Jobs at the gate that need a token (queued plus the one in hand).
    void set_demand(std::uint64_t jobs) noexcept {
        if (m_demand.load(std::memory_order_relaxed) != jobs)
            m_demand.store(jobs, std::memory_order_release);
    }
    std::uint64_t demand() const noexcept { return m_demand.load(std::memory_order_acquire); }

    void grant(std::uint64_t tokens) noexcept {
        m_available.fetch_add(tokens, std::memory_order_acq_rel);
    }
    // Takes back every token not spent yet and returns how many.
    std::uint64_t revoke() noexcept { return m_available.exchange(0, std::memory_order_acq_rel); }
    std::uint64_t available() const noexcept { return m_available.load(std::memory_order_acquire); }

  private:
    std::atomic<std::uint64_t> m_available{0};
    std::atomic<std::uint64_t> m_demand{0};
};

}  // namespace raregen::gate
