#pragma once
// The jobs side of Postgres at start-up and in the background: engine
// instances and their liveness, adopting a dead instance's unfinished jobs,
// and claiming queued rows other processes (the RareGen API) inserted.
//
// Liveness: every running engine holds a session-level advisory lock keyed
// by its instance id on a connection it keeps open (InstanceLease). Postgres
// drops the lock the moment that session ends, however the process ended
// (SIGKILL, a crash, a lost machine once TCP keepalive notices). So "can I
// take instance X's lock?" is an exact test of "is X dead?", with no clock
// and no heartbeat threshold to tune.
//
// Adoption moves a dead instance's unfinished jobs (queued, processing_batch,
// sending) to the live one and returns them, each with the route it resumes
// on:
//   gate      signed bytes are stored: sent again AS IS, never re-signed
//             (invariant 3); the fence does not apply (already durable)
//   sign      batched, not signed: signed in its batch, with its batch_seq
//   sequence  queued: batched anew
// Within a route, jobs come in (batch, batch_seq) order, then intake order.
//
// Threads: plain functions over a Connection (one thread at a time); they
// block and allocate: never on a stage's hot path.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/model/job.h"
#include "storage/pg/connection.h"

namespace raregen::jobs {

// The advisory lock class (first key) every instance lock uses: "rgni".
inline constexpr int k_instance_lock_class = 0x72676e69;

// "i-" and 16 random hex digits (from the OS CSPRNG).
std::string new_instance_id();

// Registers this engine in raregen_instances and holds its liveness lock on
// a dedicated connection for as long as the object lives. A heartbeat
// thread updates heartbeat_at every `heartbeat` and, if the connection broke
// (the database restarted), reconnects and takes the lock again: until then
// other engines may see this one as dead and adopt its jobs, which the
// write-behind's ownership checks make safe (this engine's facts for them
// are refused). Throws pg::ConnectError or std::runtime_error (start-up).
class InstanceLease {
  public:
    InstanceLease(const std::string& conninfo, std::string instance_id,
                  std::chrono::milliseconds heartbeat = std::chrono::seconds(2));
    ~InstanceLease();  // stops the heartbeat, records stopped_at, disconnects
    InstanceLease(const InstanceLease&) = delete;
    InstanceLease& operator=(const InstanceLease&) = delete;
    const std::string& id() const { return m_id; }
    // Times the lock was taken again after a lost connection.
    std::uint64_t relocks() const { return m_relocks.load(); }

  private:
    void beat();
    std::string m_id;
    std::string m_conninfo;
    std::unique_ptr<pg::Connection> m_conn;
    std::chrono::milliseconds m_heartbeat;
    std::atomic<std::uint64_t> m_relocks{0};
    std::mutex m_mu;
    std::condition_variable m_cv;
    bool m_quit = false;
    std::thread m_thread;
};

// Instances registered and not stopped whose liveness lock is free (dead).
pg::Status find_dead_instances(pg::Connection& conn, const std::string& me,
                               std::vector<std::string>& dead);

enum class Route : std::uint8_t { sequence, sign, gate };

struct ResumedJob {
    Route route = Route::sequence;
    model::Job job;
    std::string batch_id;  // processing_batch_id, for ordering and reports
};

// Moves the unfinished jobs of `dead` to `me` (and marks `dead` stopped) in
// one transaction; appends them to `out` in resume order. Rows that cannot
// be resumed (no job id in UUID form, a record hash that is not 64 hex, a
// stored transaction that does not fit a Job) are marked failed with the
// reason instead.
pg::Status adopt_jobs(pg::Connection& conn, const std::string& dead, const std::string& me,
                      std::vector<ResumedJob>& out);

// Claims up to `limit` rows with status queued and no owner (inserted by
// another process), FOR UPDATE SKIP LOCKED, so two engines never claim the
// same row. Appends them (route sequence) in created_at order.
pg::Status claim_queued(pg::Connection& conn, const std::string& me, std::size_t limit,
                        std::vector<ResumedJob>& out);

}  // namespace raregen::jobs
