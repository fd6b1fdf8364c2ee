#pragma once
// WriteBehind: the one writer between the pipeline and Postgres.
//
// Stages hand it facts (model::FactSink::try_emit) from any thread; a
// dedicated thread with its own libpq connection folds everything pending
// into ONE transaction per flush, a few multi-row statements (unnest over
// array parameters), and then publishes the durable watermark:
// every ticket <= durable_through() is committed. The gate's fence reads it.
//
// What a flush writes (the RareGen tables, storage/pg/migrations.cpp):
//   job_accepted  publish_jobs row (status queued, owned by this instance),
//                 its nonce (nonces) and an audit_log entry; cdn_url and
//                 file_sha256 come from the canonical record
//   job_batched   status processing_batch, processing_batch_id, batch_seq
//   batch_closed  publish_batches row
//   tx_signed     txid, signed_tx, ef_tx, spent outpoint (+ utxos row spent)
//   tx_released   status sending, sending_started_at, attempts + 1
//   tx_sent       status sent, sent_at
//   job_failed    status failed, error_code, error_detail (the fact's text,
//                 e.g. the network's answer; else a sentence per code)
//                 (+ utxos row dirty if it was signed)
//   tx_resigned   txid, signed_tx, ef_tx replaced (same spent outpoint; only
//                 after the network refused the fee); refused like tx_signed
//                 if the row is not ours, finished, or spends another outpoint
// A flush folds its facts per job first, so a job costs one row version per
// flush, not one per fact: accepted (+ batched + signed, if in the same
// flush) is one INSERT; batched/signed of an earlier job one UPDATE;
// released/sent/failed one UPDATE (the fence keeps a release out of the
// flush that signs it).
//
// Exactly once: every statement only touches rows owned by this instance
// (instance_id) and is idempotent, so a flush retried after a connection
// dropped during COMMIT (outcome unknown) writes nothing twice. A tx_signed
// fact that matches no row of ours (the job's row belongs to another
// instance, its record was already published, or the outpoint is spent by
// another job) is REFUSED: refused(ticket) turns true and the gate fails the
// job instead of releasing it. A job_accepted fact whose row could not be
// inserted because another job already holds its record (record_hash is
// unique) is refused too: the HTTP API then answers with that job instead
// of acknowledging a second one.
//
// Bounded: at most `capacity` facts are held; try_emit returns 0 when full,
// which the stage treats as backpressure. A slow database therefore slows
// the pipeline instead of growing memory. Database down: the writer keeps
// every fact, reconnects with exponential backoff and jitter, reports
// healthy() == false with the (scrubbed) reason, and resumes when the
// database is back. Nothing is dropped, nothing written twice. A statement
// that fails on its data (SQLSTATE class 22 or 23: a constraint, bad data)
// is retried fact by fact, each in its own transaction; a fact that still
// fails is logged and skipped (tx_signed: refused), so one bad row cannot
// wedge the engine. Any other failure (connection, shutdown, a missing
// table) holds the facts and retries the whole flush.
//
// Threads: try_emit, durable_through, refused and the stats are safe from
// any thread. try_emit takes a mutex for the copy of one Job (no
// allocation unless a canonical record is longer than the preallocated
// room per slot). start/stop from one owning thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "engine/model/facts.h"
#include "engine/model/job.h"

namespace raregen::pg {
class Connection;
class Status;
}  // namespace raregen::pg

namespace raregen::writebehind {

struct WriteBehindOptions {
    std::string conninfo;      // a secret: never logged (describe it with pg::describe_target)
    std::string instance_id;   // owner written into publish_jobs.instance_id
    std::string batch_prefix;  // batch ids are "b-<prefix>-<batch_no>", as the sequencer names them
    std::size_t capacity = 16384;       // facts held at most
    std::size_t max_flush = 4096;       // facts per transaction at most
    std::size_t canonical_room = 2048;  // bytes of canonical record preallocated per slot
    std::chrono::milliseconds retry_min{20};
    std::chrono::milliseconds retry_max{2000};
    // Called on the writer thread after every commit that moved the
    // watermark (wire it to RunContext::wake so the gate looks again).
    std::function<void()> on_durable;
    // Called on the writer thread with a one-line, scrubbed message when the
    // database fails or comes back, and for every skipped fact.
    std::function<void(std::string_view)> on_log;
};

struct WriteBehindStats {
    std::uint64_t emitted = 0;  // tickets handed out
    std::uint64_t durable = 0;  // the watermark
    std::uint64_t commits = 0;  // transactions committed
    std::uint64_t refused = 0;  // job_accepted and tx_signed facts storage refused
    std::uint64_t skipped = 0;  // facts that failed alone and were skipped
    std::uint64_t retries = 0;  // flushes retried after a database error
    std::uint64_t full = 0;     // try_emit calls refused for lack of room
    std::uint64_t pending = 0;  // emitted - durable
    bool healthy = true;
    std::string last_error;  // empty when healthy
    // Flush latency (BEGIN to COMMIT acknowledged) and size, over all commits.
    double flush_ms_p50 = 0, flush_ms_p99 = 0, flush_ms_max = 0;
    double rows_per_flush_mean = 0;
};

class WriteBehind final : public model::FactSink {
  public:
    // Allocates every slot. Throws std::invalid_argument on a bad option.
    explicit WriteBehind(WriteBehindOptions options);
    ~WriteBehind() override;  // stops (see stop) if still running
    WriteBehind(const WriteBehind&) = delete;
    WriteBehind& operator=(const WriteBehind&) = delete;

    // Starts the writer thread. It connects on its own (and keeps retrying).
    void start();
    // Stops taking facts only in the sense that the caller promises to emit
    // no more; waits until every fact emitted is durable, or until `give_up`
    // passes while the database stays unreachable. Returns true if
    // everything is durable. Idempotent.
    bool stop(std::chrono::milliseconds give_up = std::chrono::minutes(2));

    model::FactTicket try_emit(model::FactKind kind, const model::Job& job, flow::Nanos now,
                               std::string_view canonical_record = {}) noexcept override;
    model::FactTicket durable_through() const noexcept override {
        return m_durable.load(std::memory_order_acquire);
    }
    bool refused(model::FactTicket ticket) const noexcept override;

    bool healthy() const noexcept { return m_healthy.load(std::memory_order_acquire); }
    WriteBehindStats stats() const;

  private:
    struct Slot {
        model::FactKind kind = model::FactKind::job_accepted;
        model::Job job;
        std::string canonical;
    };
    // What one flush knows about one job (writer thread).
    struct Merged {
        const Slot* accepted = nullptr;
        model::FactTicket accepted_ticket = 0;
        const Slot* batched = nullptr;
        const Slot* signed_fact = nullptr;
        model::FactTicket signed_ticket = 0;
        bool released = false;
        bool sent = false;
        const Slot* failed = nullptr;
        const Slot* resigned = nullptr;
        model::FactTicket resigned_ticket = 0;
        const Slot* last = nullptr;
    };
    struct Columns;

    void run();
    // Writes tickets [from, to) in one transaction. Returns false on a
    // connection-level failure (nothing applied; retry later).
    bool flush(model::FactTicket from, model::FactTicket to);
    bool flush_one_by_one(model::FactTicket from, model::FactTicket to);
    pg::Status apply_in_transaction(model::FactTicket from, model::FactTicket to,
                                    std::vector<model::FactTicket>& refused);
    void add_refused(const std::vector<model::FactTicket>& refused);
    // Applies the slots in [from, to) inside an open transaction; fills the
    // refused list. False with m_error set on failure.
    bool apply(model::FactTicket from, model::FactTicket to,
               std::vector<model::FactTicket>& refused);
    bool ensure_connected();
    void log(std::string_view message);
    Slot& slot(model::FactTicket t) noexcept { return m_slots[(t - 1) % m_slots.size()]; }

    WriteBehindOptions m_options;
    std::vector<Slot> m_slots;
    std::unique_ptr<Columns> m_cols;         // writer thread only
    std::unique_ptr<pg::Connection> m_conn;  // writer thread only

    mutable std::mutex m_mu;
    std::condition_variable m_cv;       // writer waits for facts / stop
    std::condition_variable m_drained;  // stop() waits for the watermark
    model::FactTicket m_head = 0;       // last ticket handed out (guarded by m_mu)
    bool m_stopping = false;            // guarded by m_mu
    std::atomic<model::FactTicket> m_durable{0};

    mutable std::mutex m_refused_mu;
    std::unordered_set<model::FactTicket> m_refused;
    std::atomic<std::uint64_t> m_refused_count{0};

    std::atomic<bool> m_healthy{true};
    mutable std::mutex m_stats_mu;
    WriteBehindStats m_stats;
    std::vector<double> m_flush_ms;  // ring of recent flush latencies (stats)
    std::size_t m_flush_ms_next = 0;
    std::uint64_t m_rows_flushed = 0;
    std::string m_error;     // writer thread: the last failure
    std::string m_sqlstate;  // writer thread: its SQLSTATE, if the server sent one

    std::thread m_thread;
    bool m_started = false;
    bool m_stopped = false;
};

}  // namespace raregen::writebehind
