#pragma once
// Runner: runs a graph of stages on a few threads until every stage finishes.
//
// Shape. Each stage is pinned to one worker thread (add(stage, thread)). A
// worker loops over its live stages in the order they were added, reading the
// clock before each step(now, budget) call. A pass in which no stage
// progressed backs off: a few passes with a yield, then the thread parks
// (condition variable, timeout) until another worker makes progress, someone
// calls wake(), request_stop() is called, a wake_by() deadline arrives, or
// park_timeout passes. So an idle graph costs next to no CPU, and a busy one
// never touches the lock. Sized for small boxes: on 2 cores use 1 or 2
// workers and put CPU-heavy stages on their own.
//
// Drain. request_stop() sets the context's stop flag; sources see it and
// finish, and the finish propagates down the channels (see stage.h). A worker
// stops calling a stage once it returns finished and exits when all its
// stages have; wait() returns when every worker has. Nothing is dropped: the
// runner never abandons a stage that has not finished. (A stage that never
// finishes therefore keeps wait() from returning; that is a bug in the
// stage.)
//
// Threads. Set-up members (add, emplace, start) from one thread before the
// graph runs. request_stop(), wake(), context(), park_count() and the stage
// counters: any thread. wait() and the destructor: any thread other than the
// workers. The destructor of a running runner requests stop and waits.
//
// Lifetimes. The clock, and the channels the stages use, must outlive the
// runner (declare them first). Stages are destroyed with the runner, after
// its threads have joined, so their counters stay readable after wait().
//
// Memory. add() and start() allocate (stage list, threads). The worker loop
// allocates nothing.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "engine/flow/clock.h"
#include "engine/flow/run_context.h"
#include "engine/flow/stage.h"

namespace raregen::flow {

struct RunnerOptions {
    // Worker threads (>= 1). Stages are pinned to one each by add().
    std::size_t threads = 1;
    // Most items a stage may move per step() call (>= 1). Bounds how long one
    // stage holds its thread before the others get a turn.
    std::size_t budget = 64;
    // Passes without progress (each followed by a yield) before a thread
    // parks. Short bursts of idleness stay off the futex.
    std::size_t spin_passes = 32;
    // Longest park without a wake-up (> 0). Stages that wait for time should
    // use RunContext::wake_by rather than rely on this.
    Nanos park_timeout = std::chrono::milliseconds(50);
};

class Runner {
  public:
    // The clock must outlive the runner. Throws std::invalid_argument if an
    // option is out of range (the message names it).
    explicit Runner(const Clock& clock, RunnerOptions options = {});
    ~Runner();

    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    RunContext& context() noexcept { return m_context; }

    // Set-up only. Takes ownership and pins the stage to worker `thread`.
    // Throws std::invalid_argument (null stage), std::out_of_range (no such
    // thread) or std::logic_error (already started).
    Stage& add(std::unique_ptr<Stage> stage, std::size_t thread = 0);

    template <class S, class... Args>
    S& emplace(std::size_t thread, Args&&... args) {
        auto stage = std::make_unique<S>(std::forward<Args>(args)...);
        S& ref = *stage;
        add(std::move(stage), thread);
        return ref;
    }

    // Starts the workers. Throws std::logic_error if called twice,
    // std::system_error if a thread cannot be created (then no worker runs).
    void start();
    // Blocks until every stage has finished and every worker has exited.
    // Returns at once if start() was never called.
    void wait();
    void run() {
        start();
        wait();
    }

    void request_stop() noexcept { m_context.request_stop(); }
    void wake() noexcept { m_context.wake(); }

    std::uint64_t park_count() const noexcept { return m_context.park_count(); }
    std::size_t stage_count() const noexcept { return m_stages.size(); }
    // In the order added. Safe to read counters() and name() while running.
    const Stage& stage(std::size_t i) const { return *m_stages.at(i).stage; }

  private:
    struct Slot {
        std::unique_ptr<Stage> stage;
        std::size_t thread = 0;
    };
    struct Live {
        Stage* stage = nullptr;
        bool finished = false;
    };

    void worker_main(std::size_t index, std::vector<Live>& stages) noexcept;
    // One pass over a worker's live stages. Returns true if any progressed or
    // finished; updates `live` and `now`.
    bool run_pass(std::vector<Live>& stages, std::size_t& live, Nanos& now) noexcept;

    const Clock& m_clock;
    const RunnerOptions m_options;
    RunContext m_context;
    std::vector<Slot> m_stages;
    std::vector<std::vector<Live>> m_worker_stages;
    std::vector<std::thread> m_threads;
    bool m_started = false;
    static constexpr int k_go_pending = 0;
    static constexpr int k_go_run = 1;
    static constexpr int k_go_abort = 2;
    std::atomic<int> m_go{k_go_pending};
};

}  // namespace raregen::flow
