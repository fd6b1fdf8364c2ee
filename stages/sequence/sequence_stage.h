#pragma once
// SequenceStage: stamps every job with its batch (batch_no, batch_seq 1..N)
// and reports each closed batch as a FactKind::batch_closed fact.
//
// Jobs are not held back until their batch closes: each one goes on as soon
// as it is numbered, so batching costs no latency. A batch closes by window
// (BATCH_WINDOW_MS after its first job), by size (MAX_BATCH_SIZE) or at end
// of stream; the stage asks the runner to wake it at the window deadline.
//
// The batch_closed fact carries a Job whose batch_no is the batch and whose
// batch_seq is its size (the last number given), accepted_at its open time
// and released_at its close time.
//
// Order of what leaves the stage, per incoming job: the close of an expired
// batch (if any), the job, the close of the batch it filled (if any). A stage
// blocked on its output or on the fact sink keeps that order.
//
// Threads: one runner thread calls step(). Allocates nothing after construction.

#include <array>
#include <cstdint>
#include <optional>

#include "engine/flow/channel.h"
#include "engine/flow/run_context.h"
#include "engine/flow/stage.h"
#include "engine/model/facts.h"
#include "engine/model/job.h"
#include "stages/sequence/sequencer.h"

namespace raregen::sequence {

class SequenceStage final : public flow::Stage {
  public:
    SequenceStage(SequencerConfig config, flow::Channel<model::Job>& input,
                  flow::Channel<model::Job>& output, model::FactSink& facts,
                  flow::RunContext& context);

    flow::Step step(flow::Nanos now, std::size_t budget) noexcept override;
    std::string_view name() const noexcept override { return "sequence"; }

    const Sequencer& sequencer() const { return m_sequencer; }
    std::uint64_t batches_closed() const { return m_batches_closed; }

  private:
    struct Out {
        bool is_job = false;
        bool fact_out = false;  // a job's job_batched fact has been accepted
        model::Job job;         // the job, or the batch_closed fact's carrier
    };
    void push_close(const BatchClosed& c);
    // Emits queued outputs in order; false if one could not leave (blocked).
    bool drain_outputs(flow::Nanos now);

    Sequencer m_sequencer;
    flow::Channel<model::Job>::Consumer m_in;
    flow::Channel<model::Job>::Producer m_out;
    flow::Channel<model::Job>& m_input;
    model::FactSink& m_facts;
    flow::RunContext& m_context;
    std::array<Out, 3> m_queue;  // at most: expired close, job, filled close
    std::size_t m_head = 0;
    std::size_t m_tail = 0;
    std::uint64_t m_batches_closed = 0;
    bool m_finished = false;
};

}  // namespace raregen::sequence
