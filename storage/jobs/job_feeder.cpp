#include "storage/jobs/job_feeder.h"

#include <vector>

namespace raregen::jobs {

using Clock = std::chrono::steady_clock;

JobFeeder::JobFeeder(JobFeederOptions options, Producer to_sequence, Producer to_sign,
                     Producer to_gate, flow::RunContext& context)
    : m_options(std::move(options)),
      m_to_sequence(std::move(to_sequence)),
      m_to_sign(std::move(to_sign)),
      m_to_gate(std::move(to_gate)),
      m_context(context) {}

JobFeeder::~JobFeeder() {
    m_quit.store(true);
    join();
}

void JobFeeder::start() {
    m_conn = std::make_unique<pg::Connection>(pg::Connection::connect(m_options.conninfo));
    m_thread = std::thread([this] { run(); });
}

void JobFeeder::join() {
    if (m_thread.joinable()) m_thread.join();
}

JobFeederStats JobFeeder::stats() const {
    std::lock_guard lock(m_stats_mu);
    return m_stats;
}

void JobFeeder::log(std::string_view m) {
    if (m_options.on_log) m_options.on_log(m);
}

void JobFeeder::close_all() {
    m_to_sequence.close();
    m_to_sign.close();
    m_to_gate.close();
    m_context.wake();
    std::lock_guard lock(m_stats_mu);
    m_stats.finished = true;
}

bool JobFeeder::deliver(std::vector<ResumedJob>& jobs) {
    // Each route in its own order, the three side by side: a route whose
    // channel is full (adopted signed jobs waiting for the gate) never holds
    // back the others (adopted batched or queued jobs that can move on).
    struct Lane {
        Producer* producer;
        Route route;
        std::size_t next = 0;  // index into `jobs` of the lane's next job
    };
    Lane lanes[3] = {
        {&m_to_gate, Route::gate}, {&m_to_sign, Route::sign}, {&m_to_sequence, Route::sequence}};
    auto advance = [&](Lane& l) {
        while (l.next < jobs.size() && jobs[l.next].route != l.route)
            ++l.next;
    };
    for (Lane& l : lanes)
        advance(l);
    for (;;) {
        bool left = false, moved = false;
        for (Lane& l : lanes) {
            // A bounded run per lane per round, so all three move together.
            for (int n = 0; n < 64 && l.next < jobs.size(); ++n) {
                if (!l.producer->try_enqueue(jobs[l.next].job)) break;
                moved = true;
                ++l.next;
                advance(l);
            }
            left = left || l.next < jobs.size();
        }
        if (moved) m_context.wake();
        if (!left) break;
        if (!moved) {
            // Backpressure: wait for room. A stop request still delivers what
            // was adopted or claimed (those rows are ours now; the drain
            // finishes them); only the feeder's own quit gives up.
            m_context.wake();
            if (m_quit.load()) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    for (const ResumedJob& r : jobs) {
        std::lock_guard lock(m_stats_mu);
        switch (r.route) {
            case Route::gate:
                ++m_stats.resumed_to_gate;
                break;
            case Route::sign:
                ++m_stats.resumed_to_sign;
                break;
            case Route::sequence:
                break;
        }
    }
    if (!jobs.empty()) m_context.wake();
    return true;
}

bool JobFeeder::adopt_pass() {
    std::vector<std::string> dead;
    pg::Status st = find_dead_instances(*m_conn, m_options.instance_id, dead);
    if (!st.ok()) {
        log("looking for dead engine instances failed: " + st.message());
        std::lock_guard lock(m_stats_mu);
        ++m_stats.db_errors;
        return false;
    }
    bool any = false;
    for (const std::string& d : dead) {
        if (m_options.on_dead_instance) m_options.on_dead_instance(*m_conn, d);
        std::vector<ResumedJob> jobs;
        st = adopt_jobs(*m_conn, d, m_options.instance_id, jobs);
        if (!st.ok()) {
            log("adopting the jobs of dead instance " + d + " failed: " + st.message());
            std::lock_guard lock(m_stats_mu);
            ++m_stats.db_errors;
            continue;
        }
        {
            std::lock_guard lock(m_stats_mu);
            ++m_stats.instances_adopted;
            for (const ResumedJob& j : jobs)
                if (j.route == Route::sequence) ++m_stats.resumed_to_sequence;
        }
        if (!jobs.empty()) {
            log("resuming " + std::to_string(jobs.size()) + " unfinished jobs of instance " + d);
            any = true;
        }
        if (!deliver(jobs)) return any;
    }
    return any;
}

bool JobFeeder::claim_pass() {
    std::vector<ResumedJob> jobs;
    pg::Status st = claim_queued(*m_conn, m_options.instance_id, m_options.claim_limit, jobs);
    if (!st.ok()) {
        log("claiming queued jobs failed: " + st.message());
        std::lock_guard lock(m_stats_mu);
        ++m_stats.db_errors;
        return false;
    }
    {
        std::lock_guard lock(m_stats_mu);
        m_stats.claimed += jobs.size();
    }
    deliver(jobs);
    return !jobs.empty();
}

void JobFeeder::run() {
    adopt_pass();
    auto next_adopt = Clock::now() + m_options.adopt_interval;
    for (;;) {
        if (m_quit.load() || m_context.stop_requested()) break;
        if (!m_conn->ok()) {
            pg::Status rs = m_conn->reset();
            if (!rs.ok()) {
                std::this_thread::sleep_for(m_options.claim_interval);
                continue;
            }
        }
        const bool done = m_options.input_done && m_options.input_done();
        bool found = claim_pass();
        if (done || Clock::now() >= next_adopt) {
            found = adopt_pass() || found;
            next_adopt = Clock::now() + m_options.adopt_interval;
        }
        if (done && !found) break;  // a batch run: nothing left to feed
        if (found) continue;
        // Sleep in small steps so a stop is seen promptly.
        const auto until = Clock::now() + m_options.claim_interval;
        while (Clock::now() < until && !m_quit.load() && !m_context.stop_requested() &&
               !(m_options.input_done && m_options.input_done() && !done))
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    close_all();
}

}  // namespace raregen::jobs
