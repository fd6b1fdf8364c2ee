#pragma once
// The stage contract: the one interface every node of the dataflow graph
// implements. Two methods and one result (step.h); no optional virtuals.
//
// A stage owns its state and its channel handles. The runner calls step()
// over and over from one thread at a time, handing it the time (read from the
// runner's clock) and a budget:
//   * step() moves at most `budget` items, never blocks (no locks held across
//     waits, no sleeping, no I/O that can stall), never throws (the noexcept is
//     part of the contract: an exception here would unwind through the
//     runner), and allocates nothing per item: buffers are sized when the
//     stage is built and reused.
//   * Backpressure: when an output is full the stage keeps the item it holds
//     (a one-item "pending" slot is the usual shape), returns Step::blocked and
//     offers it again next call. It never drops it and never grows a queue.
//   * End of stream: a stage learns that its input has ended from
//     Channel::closed_and_empty() (every producer closed, every item read). It
//     then flushes what it holds, closes each output producer handle it owns,
//     and returns Step::finished. Closing is what lets the next stage finish:
//     drain propagates down the graph one stage at a time.
//   * Stop: a source (a stage with no input channel: HTTP intake, a file, a
//     database poll) is built with a reference to the runner's RunContext
//     (run_context.h) and checks stop_requested() in step(); once it is set it
//     stops taking new work, hands on what it already accepted, closes its
//     outputs and finishes. Other stages ignore the flag: they finish when
//     their inputs do, so nothing already accepted is lost.
//   * Time: `now` is the only clock a stage sees. A stage waiting for a time
//     (a batch window, a token refill, a retry backoff) returns idle and calls
//     RunContext::wake_by(deadline) so a parked runner comes back in time.
//   * Counting: the stage adds its own items_in / items_out / rejected to
//     counters(); the runner adds blocked_count and busy_ns.
//   * After step() returns finished it is never called again.

#include <cstddef>
#include <string_view>

#include "engine/flow/clock.h"
#include "engine/flow/counters.h"
#include "engine/flow/step.h"

namespace raregen::flow {

class Stage {
  public:
    virtual ~Stage() = default;
    Stage(const Stage&) = delete;
    Stage& operator=(const Stage&) = delete;

    // Moves at most `budget` (>= 1) items; see the contract above.
    virtual Step step(Nanos now, std::size_t budget) noexcept = 0;

    // A short, stable name for logs and metrics ("ingest", "sign-0"). The
    // view must stay valid for the stage's lifetime.
    virtual std::string_view name() const noexcept = 0;

    // Any thread may read; see counters.h for who writes.
    StageCounters& counters() noexcept { return m_counters; }
    const StageCounters& counters() const noexcept { return m_counters; }

  protected:
    Stage() = default;

  private:
    StageCounters m_counters;
};

}  // namespace raregen::flow
