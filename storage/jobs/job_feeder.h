#pragma once
// JobFeeder: the storage-side source of jobs that do not come from the
// intake file, on its own thread and connection.
//
//   at start and every adopt_interval   adopts the unfinished jobs of dead
//                                       instances (job_store.h) and resumes
//                                       each on its route
//   every claim_interval                claims queued rows nobody owns (the
//                                       RareGen API's) and sends them to
//                                       sequence
//
// It writes into the pipeline's external inputs (Pipeline::ExternalInputs),
// one producer per route, with try_enqueue only: a full channel makes it
// wait and retry (backpressure); it claims at most claim_limit rows per pass.
// It wakes the runner after every delivery.
//
// End: when stop is requested (SIGTERM), or when `input_done()` turns true
// and a last adopt + claim pass finds nothing (a batch run), it closes its
// producers, so the stages behind them can finish. Before a dead instance's
// jobs are adopted, `on_dead_instance` runs on the feeder's connection (the
// engine returns that instance's unused UTXO leases to the pool there).
//
// Threads: start/stop/stats from the owning thread; everything else on the
// feeder's thread. Blocks and allocates there, never on a stage's thread.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/flow/channel.h"
#include "engine/flow/run_context.h"
#include "engine/model/job.h"
#include "storage/jobs/job_store.h"

namespace raregen::jobs {

struct JobFeederOptions {
    std::string conninfo;  // a secret: never logged
    std::string instance_id;
    std::chrono::milliseconds claim_interval{500};
    std::chrono::milliseconds adopt_interval{5000};
    std::size_t claim_limit = 1000;    // rows per claim at most
    std::function<bool()> input_done;  // null: never (a long-running engine)
    std::function<void(pg::Connection&, const std::string& dead)> on_dead_instance;
    std::function<void(std::string_view)> on_log;
};

struct JobFeederStats {
    std::uint64_t resumed_to_gate = 0, resumed_to_sign = 0, resumed_to_sequence = 0;
    std::uint64_t claimed = 0;
    std::uint64_t instances_adopted = 0;
    std::uint64_t db_errors = 0;
    bool finished = false;
};

class JobFeeder {
  public:
    using Producer = flow::Channel<model::Job>::Producer;
    JobFeeder(JobFeederOptions options, Producer to_sequence, Producer to_sign, Producer to_gate,
              flow::RunContext& context);
    ~JobFeeder();  // stops the thread (closing the producers) if still running
    JobFeeder(const JobFeeder&) = delete;
    JobFeeder& operator=(const JobFeeder&) = delete;

    // Connects on the calling thread (throws pg::ConnectError with the
    // reason), then runs the loop on its own thread.
    void start();
    // Joins the thread. Call after the pipeline finished, or after asking
    // the runner to stop (the feeder sees the stop flag).
    void join();
    JobFeederStats stats() const;

  private:
    void run();
    bool adopt_pass();  // true if anything was resumed
    bool claim_pass();
    bool deliver(std::vector<ResumedJob>& jobs);
    void close_all();
    void log(std::string_view m);

    JobFeederOptions m_options;
    Producer m_to_sequence, m_to_sign, m_to_gate;
    flow::RunContext& m_context;
    std::unique_ptr<pg::Connection> m_conn;
    std::thread m_thread;
    mutable std::mutex m_stats_mu;
    JobFeederStats m_stats;
    std::atomic<bool> m_quit{false};
};

}  // namespace raregen::jobs
