#pragma once
// Per-stage counters: what stage-by-stage profiling reads while the graph
// runs.
//
// Threads: one writer, many readers. The add_* members are called only by the
// thread currently stepping the stage (the stage itself for items, the runner
// for blocked and busy time); a stage is stepped by one runner thread at a
// time, so each counter has a single writer and is updated with a plain
// load + store instead of a locked read-modify-write. Every reader (metrics
// exporter, test, log line) may call snapshot() or the getters from any thread
// at any time. A snapshot is not atomic across fields: each field is exact as
// of some instant during the call.
//
// Memory: none allocated. Counters are cache-line aligned so that two stages
// on different threads never share a line.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace raregen::flow {

// Reads the depth of a queue without knowing its type: a function pointer and
// the object it reads. Plain data, so registering one allocates nothing.
struct DepthGauge {
    std::size_t (*read)(const void* source) noexcept = nullptr;
    const void* source = nullptr;

    std::size_t operator()() const noexcept { return read != nullptr ? read(source) : 0; }
};

// Any type with `std::size_t size() const noexcept` (e.g. Channel<T>).
template <class Queue>
DepthGauge depth_gauge_of(const Queue& queue) noexcept {
    return DepthGauge{[](const void* q) noexcept { return static_cast<const Queue*>(q)->size(); },
                      &queue};
}

struct CountersSnapshot {
    std::uint64_t items_in = 0;       // items taken from inputs
    std::uint64_t items_out = 0;      // items handed to outputs
    std::uint64_t rejected = 0;       // items refused (bad input, policy), with a status
    std::uint64_t blocked_count = 0;  // step() calls that returned Step::blocked
    std::uint64_t busy_ns = 0;        // time spent inside step(), by the runner's clock
    std::size_t queue_depth = 0;      // the registered gauge's reading (0 if none)
};

class alignas(64) StageCounters {
  public:
    StageCounters() = default;
    StageCounters(const StageCounters&) = delete;
    StageCounters& operator=(const StageCounters&) = delete;

    // Writer side (the thread stepping the stage).
    void add_in(std::uint64_t n = 1) noexcept { bump(m_items_in, n); }
    void add_out(std::uint64_t n = 1) noexcept { bump(m_items_out, n); }
    void add_rejected(std::uint64_t n = 1) noexcept { bump(m_rejected, n); }
    void add_blocked(std::uint64_t n = 1) noexcept { bump(m_blocked_count, n); }
    void add_busy(std::chrono::nanoseconds d) noexcept {
        if (d.count() > 0) bump(m_busy_ns, static_cast<std::uint64_t>(d.count()));
    }

    // Registers the gauge a snapshot reads as queue_depth, usually the stage's
    // input channel: `counters().set_depth_gauge(depth_gauge_of(input))`.
    // Set-up only: call before the runner starts (not synchronized with
    // readers); the gauge's source must outlive every reader.
    void set_depth_gauge(DepthGauge gauge) noexcept { m_depth = gauge; }

    // Reader side (any thread).
    std::uint64_t items_in() const noexcept { return m_items_in.load(std::memory_order_relaxed); }
    std::uint64_t items_out() const noexcept { return m_items_out.load(std::memory_order_relaxed); }
    std::uint64_t rejected() const noexcept { return m_rejected.load(std::memory_order_relaxed); }
    std::uint64_t blocked_count() const noexcept {
        return m_blocked_count.load(std::memory_order_relaxed);
    }
    std::uint64_t busy_ns() const noexcept { return m_busy_ns.load(std::memory_order_relaxed); }
    std::size_t queue_depth() const noexcept { return m_depth(); }

    CountersSnapshot snapshot() const noexcept {
        return CountersSnapshot{items_in(),      items_out(), rejected(),
                                blocked_count(), busy_ns(),   queue_depth()};
    }

  private:
    static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

    std::atomic<std::uint64_t> m_items_in{0};
    std::atomic<std::uint64_t> m_items_out{0};
    std::atomic<std::uint64_t> m_rejected{0};
    std::atomic<std::uint64_t> m_blocked_count{0};
    std::atomic<std::uint64_t> m_busy_ns{0};
    DepthGauge m_depth;
};

}  // namespace raregen::flow
