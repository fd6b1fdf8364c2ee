#include "stages/sign/helper_pool.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace raregen::sign {

namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

constexpr std::uint64_t k_count_mask = 0xffff'ffffULL;

}  // namespace

HelperPool::HelperPool(std::size_t threads, void (*thread_init)()) {
    if (threads == 0) throw std::invalid_argument("helper pool: threads must be at least 1");
    m_helpers.reserve(threads - 1);
    try {
        for (std::size_t slot = 1; slot < threads; ++slot) {
            m_helpers.emplace_back([this, slot, thread_init] { helper_main(slot, thread_init); });
        }
    } catch (...) {
        m_stop.store(true, std::memory_order_release);
        m_wake.fetch_add(1, std::memory_order_release);
        m_wake.notify_all();
        for (std::thread& t : m_helpers)
            t.join();
        throw;
    }
    // Set-up cost stays here: every helper has run thread_init before the
    // first run() (so, e.g., its secp256k1 context exists already).
    while (m_ready.load(std::memory_order_acquire) != m_helpers.size())
        std::this_thread::yield();
}

HelperPool::~HelperPool() {
    m_stop.store(true, std::memory_order_release);
    m_wake.fetch_add(1, std::memory_order_release);
    m_wake.notify_all();
    for (std::thread& t : m_helpers)
        t.join();
}

// Publishing a run: the task first (relaxed), then the claim word (gen, n)
// with release. A thread claims by compare-and-swap from (gen, r) to
// (gen, r - 1), r > 0, and runs index r - 1. That CAS (acquire) reads a
// value in the release sequence of the caller's store, so the claimant sees
// the task and everything the caller wrote before start().
//
// Why the word carries the remaining count rather than a next index checked
// against a separately stored n: with a separate n, a helper holding the
// exhausted word (g, n_g) of the last run could read the next run's larger
// n (stored just before the new word) and then succeed in claiming "index
// n_g of run g", since the word had not changed yet; it would run a stale
// task and count it as done in the next run. (ThreadSanitizer caught
// exactly that.) With the count in the word, a successful claim proves run
// g still has work, so the caller is still inside run g and has not touched
// the task or m_done for the next run. A stale word can only be confused
// with a current one after 2^32 runs.
void HelperPool::start(std::size_t n, Call fn, void* task) noexcept {
    m_fn.store(fn, std::memory_order_relaxed);
    m_task.store(task, std::memory_order_relaxed);
    m_done.store(0, std::memory_order_relaxed);
    ++m_generation;
    m_claim.store(static_cast<std::uint64_t>(m_generation) << 32 | static_cast<std::uint64_t>(n),
                  std::memory_order_release);
    m_wake.fetch_add(1, std::memory_order_release);
    m_wake.notify_all();  // no system call unless a helper is asleep
}

void HelperPool::work(std::size_t slot) noexcept {
    std::uint64_t word = m_claim.load(std::memory_order_acquire);
    for (;;) {
        const std::uint64_t remaining = word & k_count_mask;
        if (remaining == 0) return;
        if (!m_claim.compare_exchange_weak(word, word - 1, std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
            continue;  // `word` now holds the current value
        }
        if (slot != 0) m_helper_took.store(true, std::memory_order_relaxed);
        m_fn.load(std::memory_order_relaxed)(m_task.load(std::memory_order_relaxed),
                                             static_cast<std::size_t>(remaining - 1), slot);
        // Release: the task's writes are visible to the caller once it sees
        // the count complete.
        m_done.fetch_add(1, std::memory_order_release);
        word = m_claim.load(std::memory_order_acquire);
    }
}

void HelperPool::finish(std::size_t n) noexcept {
    // Every index is claimed; helpers finish at most one task each.
    int spins = 0;
    std::size_t done = 0;
    while ((done = m_done.load(std::memory_order_acquire)) < n) {
        if (++spins < k_spin_iterations) {
            cpu_relax();
        } else {
            std::this_thread::yield();
        }
    }
    if (done != n) {
        std::fputs("raregen: helper pool: more tasks finished than the run had; a task ran twice\n",
                   stderr);
        std::abort();
    }
    if (m_helper_took.load(std::memory_order_relaxed)) {
        m_helper_took.store(false, std::memory_order_relaxed);
        m_helped.store(m_helped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
}

void HelperPool::helper_main(std::size_t slot, void (*thread_init)()) noexcept {
    if (thread_init != nullptr) thread_init();
    std::uint32_t seen = m_wake.load(std::memory_order_acquire);
    m_ready.fetch_add(1, std::memory_order_release);
    for (;;) {
        if (m_stop.load(std::memory_order_acquire)) return;
        work(slot);
        // Wait for the next run: spin a little (the next chunk usually comes
        // within microseconds when the stage is busy), then sleep.
        for (int i = 0; i < k_spin_iterations && m_wake.load(std::memory_order_acquire) == seen;
             ++i) {
            cpu_relax();
        }
        m_wake.wait(seen, std::memory_order_acquire);  // returns at once if it moved
        seen = m_wake.load(std::memory_order_acquire);
    }
}

}  // namespace raregen::sign
