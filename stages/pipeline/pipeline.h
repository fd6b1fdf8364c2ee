#pragma once
// Pipeline: the whole in-memory graph, wired.
//
//   input fd ─> ingest ─> sequence ─> sign ─> gate ─> send ─> TxSink
//                  │          │         │       │        │
//                  └──────────┴─facts───┴───────┴────────┴─> FactSink
//
// Every edge is a bounded Channel<Job> of `channel_capacity`. Threads, sized
// for a 2-core box: worker 0 runs ingest, sequence, gate and send (cheap
// stages plus one ECDSA verify per intent); worker 1 runs sign, whose helper
// pool (stages/sign/helper_pool.h) shares the second core's work with worker
// 0 when it idles.
//
// The pipeline owns its channels and stages; everything with a life beyond a
// run (keys, UTXO ring, nonce store, signer registry, sink, fact sink, clock)
// is passed in by reference and must outlive it.
//
// Shutdown: request_stop() (or SIGINT/SIGTERM via flow::signals) stops
// intake; every job already accepted flows to the sink before wait() returns.

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "engine/chain/publication.h"
#include "engine/flow/channel.h"
#include "engine/flow/clock.h"
#include "engine/flow/counters.h"
#include "engine/flow/runner.h"
#include "engine/model/facts.h"
#include "engine/model/job.h"
#include "engine/model/nonce_store.h"
#include "engine/model/signer_registry.h"
#include "engine/model/utxo_ring.h"
#include "stages/gate/gate_stage.h"
#include "stages/ingest/ingest_stage.h"
#include "stages/send/file_send_stage.h"
#include "stages/send/network_send_stage.h"
#include "stages/send/tx_sink.h"
#include "stages/sequence/sequence_stage.h"
#include "stages/sign/sign_stage.h"

namespace raregen::pipeline {

struct PipelineConfig {
    std::size_t channel_capacity = 1024;  // items per edge (>= 1)
    std::size_t budget = 64;              // items per step() call
    std::string batch_prefix = "run";     // batch ids "b-<prefix>-<n>"
    std::chrono::nanoseconds batch_window = sequence::k_default_window;
    std::uint32_t max_batch_size = sequence::k_default_max_batch_size;
    gate::TokenBucketConfig gate{};  // capacity per period (MAX_TX_PER_3S)
    sign::SignStageOptions sign{};
    ingest::IngestOptions ingest{};
    // Adds a second producer to the inputs of sequence, sign and gate, for
    // jobs that come from storage instead of the intake file: queued rows
    // claimed from the database, and jobs resumed after a crash (see
    // take_external_inputs).
    bool external_inputs = false;
};

// What the pipeline reads and writes, owned by the caller.
struct PipelineParts {
    int input_fd = 0;  // NDJSON intents (a file, a pipe or stdin)
    ingest::NonceStore* nonces = nullptr;
    const ingest::SignerRegistry* signers = nullptr;
    utxo::UtxoRing* ring = nullptr;
    const chain::PublicationKey* key = nullptr;
    // Exactly one of these: a sink (a file; FileSendStage), or the ARC client
    // (NetworkSendStage; `resigner` re-signs after a fee refusal, may be null).
    send::TxSink* sink = nullptr;
    send::ArcClient* arc = nullptr;
    sign::Resigner* resigner = nullptr;
    model::FactSink* facts = nullptr;
    const flow::Clock* clock = nullptr;
    // The rate limit every engine on the database shares (with ARC; may be
    // null): the gate also needs one of these tokens per job.
    gate::SharedAllowance* shared_rate = nullptr;
};

struct StageReport {
    std::string name;
    flow::CountersSnapshot counters;
};

class Pipeline {
  public:
    // Builds the graph (allocates channels and stages). Throws
    // std::invalid_argument naming a bad setting or a missing part.
    Pipeline(const PipelineConfig& config, PipelineParts parts);
    ~Pipeline();
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    void start();
    void wait();
    void run() {
        start();
        wait();
    }
    void request_stop() noexcept;
    flow::Runner& runner() noexcept { return *m_runner; }

    // With config.external_inputs: the producer handles into the inputs of
    // sequence (new jobs to batch), sign (batched jobs to sign) and gate
    // (signed jobs to send). Take them once, before start(), and hand them
    // to the one thread that feeds them; each must be closed when that
    // source is done, or the stage behind it never finishes. After an
    // enqueue, call runner().wake() so a parked worker looks.
    struct ExternalInputs {
        flow::Channel<model::Job>::Producer to_sequence, to_sign, to_gate;
    };
    ExternalInputs take_external_inputs();

    const ingest::IngestStage& ingest() const { return *m_ingest; }
    const sequence::SequenceStage& sequence() const { return *m_sequence; }
    const sign::SignStage& sign() const { return *m_sign; }
    const gate::GateStage& gate() const { return *m_gate; }
    // Jobs the network has answered for (with ARC): what settles held tokens.
    const std::atomic<std::uint64_t>& answered() const noexcept { return m_settled; }
    // The send stage that runs: send() with a sink, network_send() with ARC
    // (the other is null).
    const send::FileSendStage* send() const { return m_send; }
    const send::NetworkSendStage* network_send() const { return m_network_send; }
    // Counters of every stage, in flow order; safe while running.
    std::vector<StageReport> report() const;

  private:
    using JobChannel = flow::Channel<model::Job>;
    // Channels before the runner: members are destroyed in reverse order, so
    // the runner (its threads and the stages holding channel handles) goes
    // first, even when a pipeline is destroyed without wait().
    std::unique_ptr<JobChannel> m_ingested, m_sequenced, m_signed, m_released;
    // Jobs the network has answered for (send -> gate's held tokens).
    std::atomic<std::uint64_t> m_settled{0};
    std::unique_ptr<flow::Runner> m_runner;
    ingest::IngestStage* m_ingest = nullptr;
    sequence::SequenceStage* m_sequence = nullptr;
    sign::SignStage* m_sign = nullptr;
    gate::GateStage* m_gate = nullptr;
    send::FileSendStage* m_send = nullptr;
    send::NetworkSendStage* m_network_send = nullptr;
    std::unique_ptr<ExternalInputs> m_external;
};

}  // namespace raregen::pipeline
