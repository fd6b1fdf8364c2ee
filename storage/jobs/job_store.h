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
// one transaction, and writes the publish_batches row of every batch of
// `dead` that has none (it died before closing it: the batch is final now,
// its job_count the jobs carrying its id); appends them to `out` in resume order. Rows that cannot
// be resumed (no job id in UUID form, a record hash that is not 64 hex, a
// stored transaction that does not fit a Job) are marked failed with the
// reason instead. Job ids are taken as stored (model::JobId::from_stored):
// the old service's text ids resume like raregen's UUIDs.
pg::Status adopt_jobs(pg::Connection& conn, const std::string& dead, const std::string& me,
                      std::vector<ResumedJob>& out);

// Claims up to `limit` rows with status queued and no owner (inserted by
// another process), FOR UPDATE SKIP LOCKED, so two engines never claim the
// same row. Appends them (route sequence) in created_at order.
pg::Status claim_queued(pg::Connection& conn, const std::string& me, std::size_t limit,
                        std::vector<ResumedJob>& out);

// ---- switching over from the old RareGen service ----------------------------
//
// Rows the old service was working on when it stopped have no raregen owner
// (instance_id NULL, or 'legacy', the tag an earlier raregen's claim pass
// gave them) and a status it was working in. They are never touched unless
// the operator says the old service is stopped for good (`raregen run
// --adopt-legacy`): while it runs, they are its own. Rows marked sent keep
// no raregen owner (they are the old service's history; the batch audit
// does not judge them).
//
// The old worker's states (its batch-worker): processing_batch = claimed
// into a batch, nothing built, no UTXO reserved; sending = a UTXO reserved,
// a transaction built and perhaps broadcast, its txid written only once
// broadcast succeeded (then the row becomes sent). So:
//   processing_batch or retryable, no txid
//                              never reached the network: back to queued
//                              (old status, batch id and seq kept in
//                              audit_log), claimed and published like any
//                              queued row;
//   sending or processing (or any of these with a txid)
//     with a txid              for the caller to look up at ARC: known ->
//                              mark_legacy_sent; unknown -> unresolved;
//     without a txid           unresolved: it may be on chain under a txid
//                              nobody recorded. Left exactly as it is, for
//                              the operator (never published again by
//                              raregen unless the operator re-queues it).
// The UTXOs the old service reserved stay reserved: never leased again.
struct LegacyJob {
    std::string job_id;
    std::string record_id;
    std::string status;
    std::string txid;  // empty if none
    std::string batch_id;
    std::string sending_started_at;  // as text, empty if none
};
struct LegacyScan {
    std::uint64_t requeued = 0;          // processing_batch -> queued (requeue only)
    std::vector<LegacyJob> sending;      // to resolve (txid) or report
    std::uint64_t processing_batch = 0;  // seen (count_legacy) or left (with a txid)
};

// Counts and lists what the old service left (nothing is written): for the
// warning a run prints without --adopt-legacy.
pg::Status count_legacy(pg::Connection& conn, LegacyScan& out);

// Requeues the old service's processing_batch rows that carry no txid, one
// audit_log row each ('legacy_requeued', with the old batch id and seq),
// and lists its sending rows. One transaction.
pg::Status requeue_legacy(pg::Connection& conn, const std::string& me, LegacyScan& out);

// ARC holds `txid` for this old sending row: it is sent (owned by `me`, so
// no other engine touches it again). False if the row is no longer an
// unowned sending row with that txid.
pg::Status mark_legacy_sent(pg::Connection& conn, const std::string& me, const LegacyJob& job,
                            std::string_view arc_status, bool& marked);

}  // namespace raregen::jobs
