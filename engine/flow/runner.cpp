#include "engine/flow/runner.h"

#include <pthread.h>

#include <stdexcept>
#include <string>
#include <system_error>

namespace raregen::flow {

Runner::Runner(const Clock& clock, RunnerOptions options) : m_clock(clock), m_options(options) {
    if (m_options.threads == 0) {
        throw std::invalid_argument("flow::Runner: RunnerOptions::threads must be at least 1");
    }
    if (m_options.budget == 0) {
        throw std::invalid_argument("flow::Runner: RunnerOptions::budget must be at least 1");
    }
    if (m_options.park_timeout.count() <= 0) {
        throw std::invalid_argument("flow::Runner: RunnerOptions::park_timeout must be positive");
    }
}

Runner::~Runner() {
    if (m_started) {
        request_stop();
        wait();
    }
}

Stage& Runner::add(std::unique_ptr<Stage> stage, std::size_t thread) {
    if (!stage) throw std::invalid_argument("flow::Runner::add: stage is null");
    if (thread >= m_options.threads) {
        throw std::out_of_range("flow::Runner::add: stage '" + std::string(stage->name()) +
                                "' pinned to thread " + std::to_string(thread) +
                                " but the runner has " + std::to_string(m_options.threads) +
                                " (raise RunnerOptions::threads)");
    }
    if (m_started) {
        throw std::logic_error(
            "flow::Runner::add: the runner has started; add stages before start()");
    }
    Stage& ref = *stage;
    m_stages.push_back(Slot{std::move(stage), thread});
    return ref;
}

void Runner::start() {
    if (m_started) throw std::logic_error("flow::Runner::start: already started");
    m_worker_stages.assign(m_options.threads, {});
    for (const Slot& s : m_stages)
        m_worker_stages[s.thread].push_back(Live{s.stage.get(), false});
    m_threads.reserve(m_options.threads);
    // Workers wait for the go signal so that no stage runs unless every
    // worker exists: half a graph could never drain.
    try {
        for (std::size_t i = 0; i < m_options.threads; ++i) {
            m_threads.emplace_back([this, i] {
                m_go.wait(k_go_pending, std::memory_order_acquire);
                if (m_go.load(std::memory_order_acquire) == k_go_run) {
                    worker_main(i, m_worker_stages[i]);
                }
            });
        }
    } catch (...) {
        m_go.store(k_go_abort, std::memory_order_release);
        m_go.notify_all();
        for (std::thread& t : m_threads)
            t.join();
        m_threads.clear();
        m_go.store(k_go_pending, std::memory_order_relaxed);
        throw;
    }
    m_started = true;
    m_go.store(k_go_run, std::memory_order_release);
    m_go.notify_all();
}

void Runner::wait() {
    for (std::thread& t : m_threads) {
        if (t.joinable()) t.join();
    }
}

bool Runner::run_pass(std::vector<Live>& stages, std::size_t& live, Nanos& now) noexcept {
    bool progressed = false;
    m_context.clear_deadline_if_due(now);
    for (Live& l : stages) {
        if (l.finished) continue;
        const Step result = l.stage->step(now, m_options.budget);
        const Nanos after = m_clock.now();
        StageCounters& c = l.stage->counters();
        c.add_busy(after - now);
        now = after;
        switch (result) {
            case Step::progressed:
                progressed = true;
                break;
            case Step::idle:
                break;
            case Step::blocked:
                c.add_blocked();
                break;
            case Step::finished:
                // Finishing closed channels others may be waiting on.
                l.finished = true;
                --live;
                progressed = true;
                break;
        }
    }
    return progressed;
}

void Runner::worker_main(std::size_t index, std::vector<Live>& stages) noexcept {
    const std::string name = "raregen-flow-" + std::to_string(index);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());

    std::size_t live = stages.size();
    std::size_t empty_passes = 0;
    Nanos now = m_clock.now();
    while (live > 0) {
        if (run_pass(stages, live, now)) {
            empty_passes = 0;
            m_context.wake();  // our progress may be another worker's input
            continue;
        }
        if (empty_passes < m_options.spin_passes) {
            ++empty_passes;
            std::this_thread::yield();
            now = m_clock.now();
            continue;
        }
        // Announce, look once more, then sleep unless something moved.
        const std::uint64_t epoch = m_context.begin_park();
        now = m_clock.now();
        if (run_pass(stages, live, now)) {
            m_context.cancel_park();
            empty_passes = 0;
            m_context.wake();
            continue;
        }
        Nanos timeout = m_options.park_timeout;
        const Nanos deadline = m_context.deadline();
        if (deadline != RunContext::k_no_deadline) {
            const Nanos until = deadline - now;
            if (until < timeout) timeout = until;
        }
        const bool woken = m_context.park(epoch, timeout);
        // Woken by someone: spin again before the next park, work is likely.
        // Timed out: nothing came, so park again right after one pass.
        empty_passes = woken ? 0 : m_options.spin_passes;
        now = m_clock.now();
    }
}

}  // namespace raregen::flow
