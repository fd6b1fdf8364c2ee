#pragma once
// SignalDrain: SIGINT and SIGTERM start a graceful drain of a runner
// (invariant 7: nothing is lost on shutdown).
//
// While a SignalDrain lives, SIGINT and SIGTERM no longer kill the process.
// The handler does only async-signal-safe work (atomics and one write() to a
// self-pipe; no locks, no allocation); a watcher thread reads the pipe and
// calls RunContext::request_stop(), which may lock and notify. Destroying the
// SignalDrain restores the dispositions that were in place before and stops
// the watcher.
//
// Rules
//   * One SignalDrain at a time per process (the handler is process-wide).
//     Construct it on the main thread at start-up, after the runner and
//     before start(); destroy it before the runner.
//   * Throws std::logic_error if one already exists, std::system_error if
//     the pipe, the handlers or the watcher thread cannot be set up.
//   * The self-pipe is created once per process and deliberately never
//     closed: a handler still running on another thread while a SignalDrain
//     is destroyed can then never write into a reused descriptor.
//   * force_on_repeat: a second signal while draining restores the default
//     action and re-raises it, killing the process at once (an operator's
//     way out of a drain that cannot finish, e.g. ARC unreachable). Off by
//     default, because a kill can lose jobs that were not yet durable.

#include <atomic>
#include <thread>

#include "engine/flow/run_context.h"

namespace raregen::flow {

class Runner;

struct SignalDrainOptions {
    bool force_on_repeat = false;
};

class SignalDrain {
  public:
    explicit SignalDrain(RunContext& context, SignalDrainOptions options = {});
    explicit SignalDrain(Runner& runner, SignalDrainOptions options = {});
    ~SignalDrain();

    SignalDrain(const SignalDrain&) = delete;
    SignalDrain& operator=(const SignalDrain&) = delete;

    // The last signal relayed to request_stop(), or 0. Any thread. A caller
    // can exit with 128 + signal after the drain, as shells expect.
    int signal_received() const noexcept { return m_received.load(std::memory_order_acquire); }

  private:
    void watch() noexcept;

    RunContext& m_context;
    std::atomic<int> m_received{0};
    int m_quit_fd = -1;  // eventfd: tells the watcher to exit
    std::thread m_watcher;
};

}  // namespace raregen::flow
