#include "engine/flow/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <system_error>

#include "engine/flow/runner.h"

namespace raregen::flow {
namespace {

constexpr int k_signals[] = {SIGINT, SIGTERM};
constexpr int k_signal_count = static_cast<int>(sizeof(k_signals) / sizeof(k_signals[0]));

// Process-wide state the handler reads. Lock-free atomics only, so reading
// them in a handler is async-signal-safe.
std::atomic<int> g_pipe_write{-1};
std::atomic<int> g_pipe_read{-1};
std::atomic<bool> g_installed{false};
std::atomic<bool> g_force_on_repeat{false};
std::atomic<unsigned> g_signals_seen{0};
struct sigaction g_previous[k_signal_count];
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free &&
              std::atomic<unsigned>::is_always_lock_free);

extern "C" void raregen_flow_on_signal(int sig) {
    const int saved_errno = errno;
    const unsigned seen = g_signals_seen.fetch_add(1, std::memory_order_relaxed);
    if (seen > 0 && g_force_on_repeat.load(std::memory_order_relaxed)) {
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, nullptr);
        raise(sig);  // delivered once this handler returns and unblocks it
    } else {
        const unsigned char byte = static_cast<unsigned char>(sig);
        const int fd = g_pipe_write.load(std::memory_order_relaxed);
        // Non-blocking: a full pipe already holds a pending request.
        if (fd >= 0) {
            const ssize_t n = write(fd, &byte, 1);
            (void)n;
        }
    }
    errno = saved_errno;
}

void make_pipe_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
            throw std::system_error(errno, std::generic_category(),
                                    "flow::SignalDrain: cannot create the signal pipe");
        }
        g_pipe_read.store(fds[0], std::memory_order_relaxed);
        g_pipe_write.store(fds[1], std::memory_order_release);
    });
}

void drain_pipe() noexcept {
    unsigned char buf[64];
    while (read(g_pipe_read.load(std::memory_order_relaxed), buf, sizeof buf) > 0) {
    }
}

}  // namespace

SignalDrain::SignalDrain(Runner& runner, SignalDrainOptions options)
    : SignalDrain(runner.context(), options) {}

SignalDrain::SignalDrain(RunContext& context, SignalDrainOptions options) : m_context(context) {
    if (g_installed.exchange(true, std::memory_order_acq_rel)) {
        throw std::logic_error(
            "flow::SignalDrain: one is already installed; keep a single one for the process");
    }
    int installed = 0;
    try {
        make_pipe_once();
        drain_pipe();  // signals from before this SignalDrain are not ours
        m_quit_fd = eventfd(0, EFD_CLOEXEC);
        if (m_quit_fd < 0) {
            throw std::system_error(errno, std::generic_category(),
                                    "flow::SignalDrain: cannot create the watcher's eventfd");
        }
        g_signals_seen.store(0, std::memory_order_relaxed);
        g_force_on_repeat.store(options.force_on_repeat, std::memory_order_relaxed);

        struct sigaction sa {};
        sa.sa_handler = &raregen_flow_on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        for (int s : k_signals)
            sigaddset(&sa.sa_mask, s);
        for (; installed < k_signal_count; ++installed) {
            if (sigaction(k_signals[installed], &sa, &g_previous[installed]) != 0) {
                throw std::system_error(errno, std::generic_category(),
                                        "flow::SignalDrain: cannot install a signal handler");
            }
        }
        m_watcher = std::thread([this] { watch(); });
    } catch (...) {
        for (int i = 0; i < installed; ++i)
            sigaction(k_signals[i], &g_previous[i], nullptr);
        if (m_quit_fd >= 0) close(m_quit_fd);
        g_installed.store(false, std::memory_order_release);
        throw;
    }
}

SignalDrain::~SignalDrain() {
    for (int i = 0; i < k_signal_count; ++i)
        sigaction(k_signals[i], &g_previous[i], nullptr);
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(m_quit_fd, &one, sizeof one);
    m_watcher.join();
    close(m_quit_fd);
    g_installed.store(false, std::memory_order_release);
}

void SignalDrain::watch() noexcept {
    const int sig_fd = g_pipe_read.load(std::memory_order_acquire);
    pollfd fds[2] = {{sig_fd, POLLIN, 0}, {m_quit_fd, POLLIN, 0}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;  // cannot wait any more; nothing sensible to do but stop watching
        }
        if ((fds[0].revents & POLLIN) != 0) {
            unsigned char buf[64];
            ssize_t n;
            while ((n = read(sig_fd, buf, sizeof buf)) > 0) {
                m_received.store(buf[n - 1], std::memory_order_release);
                m_context.request_stop();
            }
        }
        if ((fds[1].revents & POLLIN) != 0) return;
    }
}

}  // namespace raregen::flow
