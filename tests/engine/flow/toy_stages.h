#pragma once
// Small stages and helpers shared by the flow runtime tests. They follow the
// stage contract (stage.h) the way real stages should: a one-item pending
// slot for backpressure, closed_and_empty() for end of input, close the
// output before reporting finished.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string_view>
#include <thread>

#include "engine/flow/channel.h"
#include "engine/flow/run_context.h"
#include "engine/flow/stage.h"

namespace raregen::flow::testing {

using U64Channel = Channel<std::uint64_t>;

// Waits for a condition another thread will make true. The guard only turns
// a hang into a failure; no test asserts how long anything takes.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds guard = std::chrono::seconds(120)) {
    const auto end = std::chrono::steady_clock::now() + guard;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
}

// What every toy stage records about how the runner drove it.
class ToyStage : public Stage {
  public:
    // step() calls after the stage reported finished: the runner must make none.
    std::uint64_t calls_after_finish() const { return m_after_finish.load(); }
    bool finished() const { return m_finished.load(std::memory_order_acquire); }
    std::uint64_t step_calls() const { return m_calls.load(std::memory_order_acquire); }

  protected:
    // Returns true if the stage already finished (and counts the bad call).
    bool enter() noexcept {
        m_calls.fetch_add(1, std::memory_order_acq_rel);
        if (m_finished.load(std::memory_order_relaxed)) {
            m_after_finish.fetch_add(1);
            return true;
        }
        return false;
    }
    Step finish() noexcept {
        m_finished.store(true, std::memory_order_release);
        return Step::finished;
    }

  private:
    std::atomic<bool> m_finished{false};
    std::atomic<std::uint64_t> m_calls{0};
    std::atomic<std::uint64_t> m_after_finish{0};
};

// Emits 0, 1, 2, ... up to `limit` items, or until stop is requested.
class CountingSource final : public ToyStage {
  public:
    static constexpr std::uint64_t k_unlimited = std::numeric_limits<std::uint64_t>::max();

    CountingSource(const RunContext& ctx, U64Channel& out, std::uint64_t limit,
                   std::uint64_t first = 0)
        : m_ctx(ctx),
          m_out(out.make_producer()),
          m_next(first),
          m_end(limit == k_unlimited ? limit : first + limit) {}

    Step step(Nanos, std::size_t budget) noexcept override {
        if (enter()) return Step::finished;
        if (m_ctx.stop_requested() || m_next == m_end) {
            m_out.close();
            return finish();
        }
        std::size_t moved = 0;
        while (moved < budget && m_next != m_end) {
            if (!m_out.try_enqueue(m_next)) return moved > 0 ? Step::progressed : Step::blocked;
            ++m_next;
            ++moved;
            counters().add_out();
        }
        return Step::progressed;
    }
    std::string_view name() const noexcept override { return "source"; }

  private:
    const RunContext& m_ctx;
    U64Channel::Producer m_out;
    std::uint64_t m_next;
    std::uint64_t m_end;
};

// out = in * 3 + 1.
class Transform final : public ToyStage {
  public:
    static constexpr std::uint64_t f(std::uint64_t x) { return x * 3 + 1; }

    Transform(U64Channel& in, U64Channel& out)
        : m_in(in.make_consumer()), m_out(out.make_producer()) {
        counters().set_depth_gauge(depth_gauge_of(in));
    }

    Step step(Nanos, std::size_t budget) noexcept override {
        if (enter()) return Step::finished;
        std::size_t moved = 0;
        bool took = false;  // taking an item frees room upstream: that is progress too
        while (moved < budget) {
            if (!m_has_pending) {
                if (!m_in.try_dequeue(m_pending)) break;
                m_has_pending = true;
                took = true;
                counters().add_in();
            }
            if (!m_out.try_enqueue(f(m_pending))) {
                return moved > 0 || took ? Step::progressed : Step::blocked;
            }
            m_has_pending = false;
            counters().add_out();
            ++moved;
        }
        if (moved > 0) return Step::progressed;
        if (!m_has_pending && m_in.closed_and_empty()) {
            m_out.close();
            return finish();
        }
        return Step::idle;
    }
    std::string_view name() const noexcept override { return "transform"; }

  private:
    U64Channel::Consumer m_in;
    U64Channel::Producer m_out;
    std::uint64_t m_pending = 0;
    bool m_has_pending = false;
};

// Takes everything, checks it arrives as f(0), f(1), ... (when `expect_order`),
// and keeps a count and a sum. Consumes only while the gate is open.
class CheckingSink final : public ToyStage {
  public:
    explicit CheckingSink(U64Channel& in, bool transformed = true)
        : m_in(in.make_consumer()), m_transformed(transformed) {
        counters().set_depth_gauge(depth_gauge_of(in));
    }

    Step step(Nanos, std::size_t budget) noexcept override {
        if (enter()) return Step::finished;
        if (!m_gate.load(std::memory_order_acquire)) return Step::idle;
        std::size_t moved = 0;
        std::uint64_t v = 0;
        while (moved < budget && m_in.try_dequeue(v)) {
            const std::uint64_t want = m_transformed ? Transform::f(m_expected) : m_expected;
            if (v != want && m_first_bad == k_none) m_first_bad = m_received;
            ++m_expected;
            ++m_received;
            m_sum += v;
            ++moved;
            counters().add_in();
        }
        if (moved > 0) return Step::progressed;
        if (m_in.closed_and_empty()) return finish();
        return Step::idle;
    }
    std::string_view name() const noexcept override { return "sink"; }

    void set_gate(bool open) { m_gate.store(open, std::memory_order_release); }

    static constexpr std::uint64_t k_none = std::numeric_limits<std::uint64_t>::max();
    // Read these after the runner has returned (join gives the ordering).
    std::uint64_t received() const { return m_received; }
    std::uint64_t sum() const { return m_sum; }
    std::uint64_t first_out_of_order() const { return m_first_bad; }

  private:
    U64Channel::Consumer m_in;
    bool m_transformed;
    std::atomic<bool> m_gate{true};
    std::uint64_t m_expected = 0;
    std::uint64_t m_received = 0;
    std::uint64_t m_sum = 0;
    std::uint64_t m_first_bad = k_none;
};

// Sum of f(i) for i in [0, n).
inline std::uint64_t transformed_sum(std::uint64_t n) {
    std::uint64_t s = 0;
    for (std::uint64_t i = 0; i < n; ++i)
        s += Transform::f(i);
    return s;
}

}  // namespace raregen::flow::testing
