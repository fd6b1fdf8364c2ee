#pragma once
// Facts: what stages tell the write-behind (storage, a later issue) about
// jobs as they move. Stages emit facts; they never talk to a database.
//
// The seam is FactSink::try_emit. It never blocks: false means the
// write-behind is full, and the stage treats that like a full output channel
// (keeps its item, reports Step::blocked). With no database configured, the
// NullFactSink accepts everything.
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
    job_accepted,  // ingest: the job exists (intake fields set)
    batch_closed,  // sequence: job.batch_no closed with job.batch_seq jobs (the last seq)
    tx_signed,     // sign: txid and bytes set, job.utxo is spent by it
    tx_released,   // gate: handed to the network stage
    tx_sent,       // send: the network (or the sink) accepted it
    job_failed,    // any stage: the job ended without a transaction on the network
};
constexpr std::size_t k_fact_kinds = 6;
std::string_view fact_kind_name(FactKind k);

class FactSink {
  public:
    virtual ~FactSink() = default;
    // Records that `kind` happened to `job` at `now`. Returns false, recording
    // nothing, when the sink is full (backpressure).
    virtual bool try_emit(FactKind kind, const Job& job, flow::Nanos now) noexcept = 0;
};

// Accepts and counts every fact; what runs when nothing is durable.
class CountingFactSink final : public FactSink {
  public:
    bool try_emit(FactKind kind, const Job&, flow::Nanos) noexcept override {
        m_counts[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    std::uint64_t count(FactKind kind) const noexcept {
        return m_counts[static_cast<std::size_t>(kind)].load(std::memory_order_relaxed);
    }

  private:
    std::atomic<std::uint64_t> m_counts[k_fact_kinds]{};
};

}  // namespace raregen::model
