#pragma once
// HelperPool: a fork-join pool of `threads - 1` persistent helper threads
// plus the thread that calls run(). The sign stage runs each chunk's
// signatures through it.
//
// run(n, task) calls task(i, slot) once for every i in [0, n) and returns
// when all n calls have returned. The calling thread works too (slot 0);
// helper k uses slot k (1 <= k < threads), so per-slot scratch indexed by
// `slot` is only ever touched by one thread at a time. Indices are claimed
// one at a time from a shared counter (from n - 1 down to 0), so a helper
// that is late (asleep, descheduled) simply claims fewer and the caller
// does the rest: no index waits on any particular thread.
//
// Why not oneTBB's parallel_for: it was the first choice and allocates
// nothing in steady state (measured), but libtbb is not built with
// ThreadSanitizer, so the hand-off of its task objects between threads is
// invisible to TSan and every parallel_for shows as a race inside TBB's
// headers and in the body it runs. Suppressing that would also hide races in
// the signing code. This pool is small enough to prove by reading, uses only
// std::atomic and std::thread (which TSan sees), and lets us choose how long
// helpers spin before sleeping on a small box.
//
// Threads: run() from one thread at a time (the runner thread stepping the
// stage); it may move between threads with the usual happens-before. The
// constructor and destructor from the owning thread. Everything a caller
// writes before run() is visible to the tasks, and everything the tasks
// write is visible to the caller when run() returns.
//
// Waiting: after a run a helper spins briefly (k_spin_iterations pause
// loops, tens of microseconds) for the next one, which keeps back-to-back
// chunks cheap, then sleeps on a futex (std::atomic::wait) until woken, so
// an idle stage costs no CPU. The caller, once no index is left, spins until
// the helpers finish theirs (at most one task each).
//
// Memory: the constructor starts the helpers (and runs `thread_init` on
// each before returning, e.g. to create a per-thread context); run()
// allocates nothing and makes no system call unless a helper is asleep.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace raregen::sign {

class HelperPool {
  public:
    // Starts threads - 1 helpers (none for threads <= 1) and waits until each
    // has run `thread_init` (if not null). Throws std::invalid_argument if
    // threads is 0, std::system_error if a thread cannot be started.
    explicit HelperPool(std::size_t threads, void (*thread_init)() = nullptr);
    ~HelperPool();
    HelperPool(const HelperPool&) = delete;
    HelperPool& operator=(const HelperPool&) = delete;

    // Slots, counting the caller's: 1 + helpers.
    std::size_t threads() const noexcept { return m_helpers.size() + 1; }

    // Calls task(i, slot) for each i in [0, n), spread over the caller and
    // the helpers; returns once all have returned. `task` must be noexcept
    // and outlive the call. n must be below 2^32.
    template <class Task>
    void run(std::size_t n, Task& task) noexcept {
        if (n == 0) return;
        if (m_helpers.empty() || n == 1) {
            for (std::size_t i = 0; i < n; ++i)
                task(i, 0);
            return;
        }
        start(n, &call<Task>, &task);
        work(0);
        finish(n);
    }

    // Runs so far in which at least one helper took part, and runs in which
    // the caller did everything itself: for tests and metrics.
    std::uint64_t helped_runs() const noexcept { return m_helped.load(std::memory_order_relaxed); }

  private:
    using Call = void (*)(void* task, std::size_t index, std::size_t slot) noexcept;

    template <class Task>
    static void call(void* task, std::size_t index, std::size_t slot) noexcept {
        (*static_cast<Task*>(task))(index, slot);
    }

    void start(std::size_t n, Call fn, void* task) noexcept;
    void finish(std::size_t n) noexcept;
    // Claims and runs indices of the current run until none is left.
    void work(std::size_t slot) noexcept;
    void helper_main(std::size_t slot, void (*thread_init)()) noexcept;

    static constexpr std::size_t k_line = 64;
    static constexpr int k_spin_iterations = 4096;

    // The claim word: run generation (high 32 bits) and how many indices of
    // that run are still unclaimed (low 32). Everything a claim needs is in
    // this one word, so a compare-and-swap on it can only succeed for a run
    // that still has work (see helper_pool.cpp for why that matters).
    alignas(k_line) std::atomic<std::uint64_t> m_claim{0};
    // The current run's task, written by the caller before it publishes the
    // run's claim word, read by a thread only after a successful claim.
    // Atomic (relaxed) because a helper can load them while the caller is
    // setting up the next run; the claim protocol makes what it then uses
    // the right run's values.
    std::atomic<Call> m_fn{nullptr};
    std::atomic<void*> m_task{nullptr};
    alignas(k_line) std::atomic<std::size_t> m_done{0};
    alignas(k_line) std::atomic<std::uint32_t> m_wake{0};  // bumped per run; helpers wait on it
    std::atomic<bool> m_stop{false};
    std::atomic<std::size_t> m_ready{0};
    std::atomic<std::uint64_t> m_helped{0};
    std::atomic<bool> m_helper_took{false};
    std::uint32_t m_generation = 0;  // caller only
    std::vector<std::thread> m_helpers;
};

}  // namespace raregen::sign
