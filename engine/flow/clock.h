#pragma once
// Time for the flow runtime. The runner reads a Clock and hands `now` to every
// stage; no stage reads a clock itself, so tests drive time by hand with
// ManualClock and nothing in a test depends on how fast the machine is.
//
// A time point is a Nanos: nanoseconds since the clock's own epoch (for
// SteadyClock, std::chrono::steady_clock's epoch). Only differences between
// readings of the same clock mean anything.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace raregen::flow {

using Nanos = std::chrono::nanoseconds;

// Threads: now() may be called from any thread concurrently. Implementations
// must not block and must not allocate; readings must never go backwards.
class Clock {
  public:
    virtual ~Clock() = default;
    virtual Nanos now() const noexcept = 0;

  protected:
    Clock() = default;
    Clock(const Clock&) = default;
    Clock& operator=(const Clock&) = default;
};

// std::chrono::steady_clock (CLOCK_MONOTONIC on Linux).
class SteadyClock final : public Clock {
  public:
    Nanos now() const noexcept override;
};

// A clock that moves only when told to. For tests: every member is
// thread-safe and lock-free, so a test thread may advance it while runner
// threads read it.
class ManualClock final : public Clock {
  public:
    explicit ManualClock(Nanos start = Nanos{0}) noexcept : m_now(start.count()) {}

    Nanos now() const noexcept override { return Nanos{m_now.load(std::memory_order_acquire)}; }

    // Moves the clock forward by d. A negative d is treated as zero, so the
    // clock stays monotonic as the Clock contract promises.
    void advance(Nanos d) noexcept {
        if (d.count() > 0) m_now.fetch_add(d.count(), std::memory_order_acq_rel);
    }

    // Jumps to t. Unlike advance(), this can move the clock backwards; do that
    // only in a test that means to check how a component handles it.
    void set(Nanos t) noexcept { m_now.store(t.count(), std::memory_order_release); }

  private:
    std::atomic<std::int64_t> m_now;
};

}  // namespace raregen::flow
