#include "engine/flow/run_context.h"

#include <chrono>

// ThreadSanitizer does not model atomic_thread_fence (GCC refuses it under
// -fsanitize=thread). Under TSan the store-load barrier of the parking
// protocol is a seq_cst read-modify-write on m_parked instead: RMWs on one
// variable are totally ordered and each synchronizes with the one before it,
// which gives the same guarantee in a form TSan checks. Elsewhere a fence is
// cheaper: it leaves m_parked's cache line shared between busy workers.
#if defined(__SANITIZE_THREAD__)
#define RAREGEN_FLOW_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RAREGEN_FLOW_TSAN 1
#endif
#endif

namespace raregen::flow {

void RunContext::request_stop() noexcept {
    m_stop.store(true, std::memory_order_release);
    wake_all();
}

void RunContext::wake() noexcept {
    // Pairs with begin_park(): the caller's work (channel writes) is ordered
    // before the check of m_parked.
#ifdef RAREGEN_FLOW_TSAN
    const bool any_parked = m_parked.fetch_add(0, std::memory_order_seq_cst) != 0;
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const bool any_parked = m_parked.load(std::memory_order_relaxed) != 0;
#endif
    if (any_parked) wake_all();
}

void RunContext::wake_by(Nanos deadline) noexcept {
    auto cur = m_deadline.load(std::memory_order_relaxed);
    while (deadline.count() < cur &&
           !m_deadline.compare_exchange_weak(cur, deadline.count(), std::memory_order_release,
                                             std::memory_order_relaxed)) {
    }
}

void RunContext::clear_deadline_if_due(Nanos now) noexcept {
    auto cur = m_deadline.load(std::memory_order_relaxed);
    while (cur <= now.count() &&
           !m_deadline.compare_exchange_weak(cur, k_no_deadline.count(), std::memory_order_relaxed,
                                             std::memory_order_relaxed)) {
    }
}

std::uint64_t RunContext::begin_park() noexcept {
#ifdef RAREGEN_FLOW_TSAN
    m_parked.fetch_add(1, std::memory_order_seq_cst);
#else
    m_parked.fetch_add(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
    return m_epoch.load(std::memory_order_acquire);
}

bool RunContext::park(std::uint64_t epoch, Nanos timeout) noexcept {
    // A bound keeps steady_clock::now() + timeout inside wait_for from
    // overflowing when a caller passes "forever".
    constexpr Nanos k_longest = std::chrono::hours(1);
    bool woken = false;
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        if (m_epoch.load(std::memory_order_acquire) != epoch) {
            woken = true;
        } else if (timeout.count() > 0) {
            m_park_count.fetch_add(1, std::memory_order_relaxed);
            woken = m_cv.wait_for(lock, timeout < k_longest ? timeout : k_longest,
                                  [&] { return m_epoch.load(std::memory_order_acquire) != epoch; });
        }
    }
    m_parked.fetch_sub(1, std::memory_order_relaxed);
    return woken;
}

void RunContext::wake_all() noexcept {
    m_epoch.fetch_add(1, std::memory_order_acq_rel);
    // Taking the mutex orders this notify after any parker's check of the
    // epoch: a parker either saw the new epoch or is already waiting.
    { std::lock_guard<std::mutex> lock(m_mutex); }
    m_cv.notify_all();
}

}  // namespace raregen::flow
