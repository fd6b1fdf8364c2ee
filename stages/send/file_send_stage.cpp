#include "stages/send/file_send_stage.h"

namespace raregen::send {

FileSendStage::FileSendStage(flow::Channel<model::Job>& input, TxSink& sink, model::FactSink& facts)
    : m_in(input.make_consumer()), m_input(input), m_sink(sink), m_facts(facts) {
    counters().set_depth_gauge(flow::depth_gauge_of(input));
}

flow::Step FileSendStage::step(flow::Nanos now, std::size_t budget) noexcept {
    if (m_finished) return flow::Step::finished;
    bool progressed = false;
    for (std::size_t moved = 0; moved < budget; ++moved) {
        if (m_pending == Pending::none) {
            if (!m_in.try_dequeue(m_job)) break;
            counters().add_in();
            m_pending = Pending::send;
            progressed = true;  // an input item was taken (wakes the upstream)
        }
        if (m_pending == Pending::send) {
            switch (m_sink.try_send(m_job)) {
                case SinkStatus::accepted:
                    m_pending = Pending::fact_sent;
                    break;
                case SinkStatus::full:
                    return progressed ? flow::Step::progressed : flow::Step::blocked;
                case SinkStatus::failed:
                    m_job.fail = model::FailCode::sink_refused;
                    m_pending = Pending::fact_failed;
                    break;
            }
        }
        const bool ok = m_pending == Pending::fact_sent;
        if (!m_facts.try_emit(ok ? model::FactKind::tx_sent : model::FactKind::job_failed, m_job,
                              now))
            return progressed ? flow::Step::progressed : flow::Step::blocked;
        if (ok) {
            m_sent.fetch_add(1, std::memory_order_relaxed);
            counters().add_out();
        } else {
            m_failed.fetch_add(1, std::memory_order_relaxed);
            counters().add_rejected();
        }
        m_pending = Pending::none;
        progressed = true;
    }
    if (m_pending == Pending::none && m_input.closed_and_empty()) {
        m_flush_failed = !m_sink.flush();
        m_finished = true;
        return flow::Step::finished;
    }
    return progressed ? flow::Step::progressed : flow::Step::idle;
}

}  // namespace raregen::send
