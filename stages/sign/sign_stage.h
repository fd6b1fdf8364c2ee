#pragma once
// SignStage: gives each job one UTXO from the ring, builds and signs its
// publication transaction (the RareGen payload of job.record_hash), and hands
// the signed jobs on in the order they came in, reporting FactKind::tx_signed
// for each.
//
// Per step(), a chunk of at most min(budget, max_chunk) jobs:
//   1. take: jobs are dequeued only as many as the ring holds UTXOs for, so
//      an empty ring leaves them in the input channel (see "Empty ring").
//   2. assign, serially in input order: the k-th job the stage ever takes
//      gets the k-th UTXO it ever pops. Same input and same UTXO file, hence
//      the same txids (signatures are RFC 6979 deterministic), however the
//      jobs were cut into chunks and however many threads signed them.
//   3. build and sign, in parallel over the chunk (the stage's HelperPool;
//      see Threads).
//   4. emit, in input order: for each job, its fact (tx_signed, or
//      job_failed) to the FactSink, then (if signed) the job to the output.
//
// Exactly once. A chunk is signed once and then emitted slot by slot; the
// stage remembers, for the slot at the head, whether its fact is already
// out. So when the FactSink or the output refuses, the step returns (blocked,
// or progressed if something moved) keeping the rest of the chunk, and the
// next step resumes at the same slot and the same half of it: every signed
// job's fact is emitted exactly once, and every signed job is enqueued
// exactly once, after its fact. No new jobs are taken while any of the
// chunk is still unsent.
//
// Empty ring. With no UTXO ready the stage takes no jobs and returns blocked
// (idle if its input is empty too), so the jobs wait in the input channel
// (their depth is the stage's queue_depth; the ring's is UtxoRing::depth())
// and nothing is lost. utxo_waits() counts these steps. Whoever refills the
// ring should wake the runner (storage/pool/pool_feeder.h does). A UTXO leaves the ring
// exactly once and goes into one job only, so no UTXO is ever signed twice.
//
// Failed builds. A job whose transaction cannot be built (the UTXO cannot
// pay the fee, or its value is out of range) is not sent: the stage emits
// FactKind::job_failed for it (job.utxo says which UTXO) and counts it in
// counters().rejected and failed(). Its UTXO was not spent, but the stage
// does not put it back: the ring takes UTXOs from its refill thread only,
// and a UTXO too small for one publication would fail the next job too. It
// is dropped and counted in dirty_utxos(); the job_failed fact lets the
// write-behind mark it in the database.
//
// End of stream: once the input is closed and drained and the chunk is all
// handed on, the stage closes its output and finishes. A stage waiting for
// UTXOs with jobs still in its input keeps waiting (it never fails jobs for
// lack of UTXOs); the graph drains once the ring is refilled.
//
// Threads. One runner thread calls step() (and owns the input consumer,
// the output producer and the ring's consumer side). Inside step(), the
// signing of a chunk is spread over a HelperPool (helper_pool.h) of
// `threads` slots: the calling runner thread signs too, with threads - 1
// helper threads beside it, each job claimed by whichever thread is free.
// On a 2-core box, threads = 2 means the runner thread plus one helper;
// put the other stages on the runner's other thread. threads = 1 signs on
// the calling thread alone. Each signing thread uses its own
// PublicationBuilder and buffers (preallocated, one per slot) and its own
// secp256k1 context (Secp256k1::for_this_thread). The stat getters may be
// read from any thread.
//
// Memory. The chunk (max_chunk jobs), the per-slot builders and their
// buffers, and the helper threads with their secp256k1 contexts are
// allocated and warmed in the constructor; the first step() on a new
// runner thread creates that thread's context. After that step() allocates
// nothing: tests/stages/sign/sign_alloc_test.cpp counts every malloc-family
// call on every thread over 10,000 jobs and expects zero.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <functional>

#include "engine/chain/publication.h"
#include "engine/flow/channel.h"
#include "engine/flow/stage.h"
#include "engine/model/facts.h"
#include "engine/model/job.h"
#include "engine/model/utxo_ring.h"

namespace raregen::sign {

struct SignStageOptions {
    chain::PublicationOptions publication{};  // change output on/off, fee rate
    // Most jobs held and signed per step (the runner's budget also caps it).
    // Bigger chunks spread the helper pool's hand-off over more signatures;
    // smaller ones hand jobs on sooner.
    std::size_t max_chunk = 256;
    // Signing threads, counting the runner thread that calls step().
    std::size_t threads = 2;
    // Also write the Extended Format bytes (job.ef), which ARC is sent.
    bool extended = true;
    // The network's live fee rate (ARC's policy, never below the floor),
    // read once per chunk and used instead of publication.fee_rate. Called
    // from the sign stage's thread; must not block or allocate.
    std::function<chain::FeeRate()> live_fee_rate;
};

class SignStage final : public flow::Stage {
  public:
    // Set-up (allocates; throws std::invalid_argument if max_chunk or
    // threads is 0, or std::runtime_error if the key cannot sign). `ring`,
    // `key` and `facts` must outlive the stage; the stage is the ring's only
    // consumer.
    SignStage(flow::Channel<model::Job>& input, flow::Channel<model::Job>& output,
              utxo::UtxoRing& ring, const chain::PublicationKey& key, model::FactSink& facts,
              SignStageOptions options = {});
    ~SignStage() override;

    flow::Step step(flow::Nanos now, std::size_t budget) noexcept override;
    std::string_view name() const noexcept override { return "sign"; }

    // Any thread.
    std::uint64_t signed_count() const noexcept { return m_signed.load(std::memory_order_relaxed); }
    std::uint64_t failed() const noexcept { return m_failed.load(std::memory_order_relaxed); }
    // UTXOs taken from the ring that could not fund a transaction, dropped.
    std::uint64_t dirty_utxos() const noexcept { return m_dirty.load(std::memory_order_relaxed); }
    // step() calls that found jobs waiting and no UTXO in the ring.
    // Jobs failed because the ring was closed and empty (no UTXO will come).
    std::uint64_t unfunded() const noexcept { return m_unfunded.load(std::memory_order_relaxed); }
    std::uint64_t utxo_waits() const noexcept {
        return m_utxo_waits.load(std::memory_order_relaxed);
    }
    // Jobs taken from the input and not yet handed on (or failed).
    std::size_t held() const noexcept { return m_held.load(std::memory_order_relaxed); }

    const SignStageOptions& options() const noexcept { return m_options; }

  private:
    struct Parallel;  // the helper pool and per-slot scratch

    // Builds and signs slots [0, m_count) of the chunk.
    void sign_chunk() noexcept;
    flow::Step fail_unfunded(flow::Nanos now, std::size_t budget, bool moved) noexcept;
    // Hands on the chunk from m_emitted; true once all of it is out. Sets
    // `moved` if anything left.
    bool emit(flow::Nanos now, bool& moved) noexcept;
    flow::Step finish() noexcept;

    static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

    const SignStageOptions m_options;  // first: checked before any channel handle is made
    // What build() is given: m_options.publication with the live fee rate
    // (set before each chunk, read by the helper threads during it).
    chain::PublicationOptions m_publication = m_options.publication;
    flow::Channel<model::Job>::Consumer m_in;
    flow::Channel<model::Job>::Producer m_out;
    flow::Channel<model::Job>& m_input;
    utxo::UtxoRing& m_ring;
    const chain::PublicationKey& m_key;
    model::FactSink& m_facts;
    std::unique_ptr<Parallel> m_parallel;

    // The chunk: jobs in input order, their UTXOs, and whether each was signed.
    std::vector<model::Job> m_jobs;
    std::vector<chain::Utxo> m_utxos;
    std::vector<std::uint8_t> m_ok;
    std::size_t m_count = 0;       // jobs in the chunk
    std::size_t m_emitted = 0;     // [0, m_emitted) handed on
    bool m_head_fact_out = false;  // the fact of slot m_emitted was emitted
    bool m_finished = false;

    std::atomic<std::uint64_t> m_signed{0};
    std::atomic<std::uint64_t> m_failed{0};
    std::atomic<std::uint64_t> m_dirty{0};
    std::atomic<std::uint64_t> m_utxo_waits{0};
    std::atomic<std::uint64_t> m_unfunded{0};
    std::atomic<std::size_t> m_held{0};
};

}  // namespace raregen::sign
