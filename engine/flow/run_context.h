#pragma once
// RunContext: what a running graph shares between its runner threads, its
// stages and the outside world: the stop flag, the wake-up line, and the
// earliest deadline a stage asked to be woken for.
//
// Owned by a Runner (Runner::context()); stages that need it (sources, timed
// stages) take a reference when they are built, so it outlives them.
//
// Threads and cost
//   stop_requested()   any thread; one atomic load. Sources call it per step.
//   request_stop()     any thread except a signal handler (it takes a mutex
//                      to wake parked threads; signals.h relays signals).
//   wake()             any thread except a signal handler. When no runner
//                      thread is parked it is a fence and one load, no lock,
//                      no syscall; otherwise it takes the mutex and notifies.
//                      Threads outside the runner that hand work to a stage
//                      (an HTTP thread enqueueing into a source channel, a
//                      thread consuming a sink channel) call it after doing
//                      so; stages inside the runner need not.
//   wake_by(t)         any thread; lock-free. Asks that parked runner threads
//                      wake no later than clock time t (the runner's clock).
//                      Cleared once reached: a stage still waiting re-arms it
//                      each time it returns idle.
// Nothing here allocates after construction.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>

#include "engine/flow/clock.h"

namespace raregen::flow {

class RunContext {
  public:
    RunContext() = default;
    RunContext(const RunContext&) = delete;
    RunContext& operator=(const RunContext&) = delete;

    // Graceful drain: sources stop intake and finish; every other stage
    // finishes once its inputs close and drain. Idempotent.
    void request_stop() noexcept;
    bool stop_requested() const noexcept { return m_stop.load(std::memory_order_acquire); }

    void wake() noexcept;
    void wake_by(Nanos deadline) noexcept;

    // Times a runner thread went to sleep (entered its wait). For tests and
    // metrics: a runner with nothing to do should park instead of spinning.
    std::uint64_t park_count() const noexcept {
        return m_park_count.load(std::memory_order_relaxed);
    }

    // The pending wake_by deadline, or k_no_deadline.
    static constexpr Nanos k_no_deadline = Nanos{std::numeric_limits<Nanos::rep>::max()};
    Nanos deadline() const noexcept { return Nanos{m_deadline.load(std::memory_order_acquire)}; }

  private:
    friend class Runner;

    // Parking protocol for runner threads (no lost wake-up):
    //   e = begin_park(); <one more pass over the stages>;
    //   progress ? cancel_park() : park(e, timeout);
    // begin_park announces the thread as parked and then reads the epoch;
    // wakers publish their work, then check for parked threads and bump the
    // epoch. A seq_cst fence on each side guarantees that either the final
    // pass sees the work or the waker sees the parked thread.
    std::uint64_t begin_park() noexcept;
    void cancel_park() noexcept { m_parked.fetch_sub(1, std::memory_order_relaxed); }
    // Sleeps until the epoch moves past `epoch` or `timeout` passes (0 or less:
    // no sleep). Returns true if woken by the epoch, false on timeout.
    bool park(std::uint64_t epoch, Nanos timeout) noexcept;
    // Drops the deadline if `now` has reached it.
    void clear_deadline_if_due(Nanos now) noexcept;
    void wake_all() noexcept;

    std::atomic<bool> m_stop{false};
    std::atomic<std::uint64_t> m_epoch{0};
    std::atomic<std::uint32_t> m_parked{0};
    std::atomic<std::uint64_t> m_park_count{0};
    std::atomic<Nanos::rep> m_deadline{k_no_deadline.count()};
    std::mutex m_mutex;
    std::condition_variable m_cv;
};

}  // namespace raregen::flow
