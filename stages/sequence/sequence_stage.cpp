#include "stages/sequence/sequence_stage.h"

namespace raregen::sequence {

SequenceStage::SequenceStage(SequencerConfig config, flow::Channel<model::Job>& input,
                             flow::Channel<model::Job>& output, model::FactSink& facts,
                             flow::RunContext& context)
    : m_sequencer(config),
      m_in(input.make_consumer()),
      m_out(output.make_producer()),
      m_input(input),
      m_facts(facts),
      m_context(context) {
    counters().set_depth_gauge(flow::depth_gauge_of(input));
}

void SequenceStage::push_close(const BatchClosed& c) {
    Out& o = m_queue[m_tail++];
    o.is_job = false;
    o.job = model::Job{};
    o.job.batch_no = c.batch.number;
    o.job.batch_seq = c.size;
    o.job.accepted_at = c.opened_at;
    o.job.released_at = c.closed_at;
}

bool SequenceStage::drain_outputs(flow::Nanos now) {
    while (m_head < m_tail) {
        Out& o = m_queue[m_head];
        if (o.is_job) {
            // The job's batch is on its way to the write-behind before the
            // job can be signed: recovery resumes a batch in its own order.
            if (!o.fact_out) {
                if (!m_facts.try_emit(model::FactKind::job_batched, o.job, now)) return false;
                o.fact_out = true;
            }
            if (!m_out.try_enqueue(o.job)) return false;
            counters().add_out();
        } else {
            if (!m_facts.try_emit(model::FactKind::batch_closed, o.job, now)) return false;
            ++m_batches_closed;
        }
        ++m_head;
    }
    m_head = m_tail = 0;
    return true;
}

flow::Step SequenceStage::step(flow::Nanos now, std::size_t budget) noexcept {
    if (m_finished) return flow::Step::finished;
    bool progressed = false;
    if (!drain_outputs(now)) return flow::Step::blocked;

    if (auto closed = m_sequencer.poll(now)) {
        push_close(*closed);
        if (!drain_outputs(now)) return flow::Step::blocked;
        progressed = true;
    }

    std::size_t moved = 0;
    model::Job job;
    while (moved < budget && m_in.try_dequeue(job)) {
        counters().add_in();
        const Assignment a = m_sequencer.assign(now);
        if (a.expired) push_close(*a.expired);
        job.batch_no = a.batch.number;
        job.batch_seq = a.seq;
        Out& o = m_queue[m_tail++];
        o.is_job = true;
        o.fact_out = false;
        o.job = job;
        if (a.filled) push_close(*a.filled);
        ++moved;
        progressed = true;
        // An input item was taken: report progress (so the upstream is
        // woken) even if what it produced must wait for room.
        if (!drain_outputs(now)) return flow::Step::progressed;
    }

    if (moved < budget && m_input.closed_and_empty()) {
        if (auto closed = m_sequencer.flush(now)) {
            push_close(*closed);
            if (!drain_outputs(now)) return flow::Step::blocked;
        }
        m_out.close();
        m_finished = true;
        return flow::Step::finished;
    }
    if (auto deadline = m_sequencer.next_deadline()) m_context.wake_by(*deadline);
    return progressed ? flow::Step::progressed : flow::Step::idle;
}

}  // namespace raregen::sequence
