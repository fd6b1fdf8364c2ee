#pragma once
// Facts: what stages tell the write-behind (storage/writebehind) about
// jobs as they move. Stages emit facts; they never talk to a database.
//
// The seam is FactSink::try_emit. It never blocks: 0 (no ticket) means the
// write-behind is full, and the stage treats that like a full output channel
// (keeps its item, reports Step::blocked). With no database configured, the
// CountingFactSink accepts everything. The gate reads durable_through() and
// refused(): the fence (storage/writebehind).
//
// Threads: try_emit may be called by any stage's thread concurrently; an
// implementation must be thread-safe and allocation-free.

#include <atomic>
#include <cstdint>
#include <string_view>

#include "engine/flow/clock.h"
#include "engine/model/job.h"

namespace raregen::model {

enum class FactKind : std::uint8_t {
    job_accepted,  // ingest: the job exists (intake fields set; the canonical record passed along)
    job_batched,   // sequence: the job got its batch_no and batch_seq
    batch_closed,  // sequence: job.batch_no closed with job.batch_seq jobs (the last seq)
    tx_signed,     // sign: txid and bytes set, job.utxo is spent by it
    tx_released,   // gate: handed to the network stage
    tx_sent,       // send: the network (or the sink) accepted it
    job_failed,    // any stage: the job ended without a transaction on the network (job.fail)
    tx_resigned,   // send: the network refused the fee (ARC 465), so the job was signed again
                   // on the SAME UTXO at the new rate: txid and bytes replace the stored ones
};
constexpr std::size_t k_fact_kinds = 8;
std::string_view fact_kind_name(FactKind k);

// A receipt for one emitted fact: tickets grow by one per accepted fact, in
// the order try_emit calls were serialized. 0 means refused (sink full).
using FactTicket = std::uint64_t;

class FactSink {
  public:
    virtual ~FactSink() = default;
    // Records that `kind` happened to `job` at `now` and returns its ticket,
    // or returns 0, recording nothing, when the sink is full (backpressure).
    // `text` is the JCS text of the record for job_accepted, and an optional
    // readable reason for job_failed (e.g. the network's answer); ignored
    // otherwise. It is copied before the call returns.
    virtual FactTicket try_emit(FactKind kind, const Job& job, flow::Nanos now,
                                std::string_view text = {}) noexcept = 0;
    // The durability fence: every fact whose ticket is <= durable_through()
    // is durable. Monotonic. A sink that stores nothing says everything is.
    virtual FactTicket durable_through() const noexcept = 0;
    // For a ticket <= durable_through(): true if storage refused that fact
    // (e.g. the job's row belongs to another engine, or its record was
    // already published), so the job must not go on.
    virtual bool refused(FactTicket) const noexcept { return false; }
};

// Accepts and counts every fact; what runs when nothing is durable. Every
// ticket counts as durable at once.
class CountingFactSink final : public FactSink {
  public:
    FactTicket try_emit(FactKind kind, const Job&, flow::Nanos,
                        std::string_view = {}) noexcept override {
        m_counts[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
        return m_next.fetch_add(1, std::memory_order_relaxed) + 1;
    }
    FactTicket durable_through() const noexcept override { return ~FactTicket{0}; }
    std::uint64_t count(FactKind kind) const noexcept {
        return m_counts[static_cast<std::size_t>(kind)].load(std::memory_order_relaxed);
    }

  private:
    std::atomic<std::uint64_t> m_counts[k_fact_kinds]{};
    std::atomic<FactTicket> m_next{0};
};

}  // namespace raregen::model
