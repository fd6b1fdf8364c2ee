#include "stages/send/network_send_stage.h"

#include <algorithm>

namespace raregen::send {

NetworkSendStage::NetworkSendStage(flow::Channel<model::Job>& input, ArcClient& arc,
                                   model::FactSink& facts, sign::Resigner* resigner,
                                   NetworkSendOptions options)
    : m_in(input.make_consumer()),
      m_input(input),
      m_arc(arc),
      m_facts(facts),
      m_resigner(resigner),
      m_options(options),
      m_client_capacity(arc.settings().capacity) {
    // At least one new job must fit beside a full waiting list.
    m_options.resign_room = std::clamp<std::size_t>(
        m_options.resign_room, 1, m_client_capacity > 1 ? m_client_capacity - 1 : 1);
    m_waiting.reserve(m_options.resign_room);
    counters().set_depth_gauge(flow::depth_gauge_of(input));
}

bool NetworkSendStage::fail(model::Job& job, model::FailCode code, std::string_view detail,
                            flow::Nanos now) noexcept {
    job.fail = code;
    if (m_facts.try_emit(model::FactKind::job_failed, job, now, detail) == 0) return false;
    m_failed.fetch_add(1, std::memory_order_relaxed);
    counters().add_rejected();
    settle();
    return true;
}

bool NetworkSendStage::handle_outcome(flow::Nanos now) noexcept {
    model::Job& job = m_outcome.job;
    switch (m_outcome.verdict) {
        case ArcVerdict::sent:
            if (m_facts.try_emit(model::FactKind::tx_sent, job, now) == 0) return false;
            m_sent.fetch_add(1, std::memory_order_relaxed);
            counters().add_out();
            settle();
            if (job.accepted_at.count() > 0) m_latency.record(now - job.accepted_at);
            break;
        case ArcVerdict::failed: {
            const bool double_spend = m_outcome.tx_status.view() == "DOUBLE_SPEND_ATTEMPTED" ||
                                      m_outcome.arc_status == 466;
            if (!fail(job,
                      double_spend ? model::FailCode::double_spend
                                   : model::FailCode::network_rejected,
                      m_outcome.detail.view(), now))
                return false;
            break;
        }
        case ArcVerdict::fee_too_low: {
            if (m_resigner == nullptr || job.resigns >= m_options.max_resigns) {
                if (!fail(job, model::FailCode::network_rejected, m_outcome.detail.view(), now))
                    return false;
                break;
            }
            if (m_waiting.size() == m_waiting.capacity()) return false;  // room first
            Waiting w{job, 0};
            ++w.job.resigns;
            const auto result = m_resigner->resign(w.job, m_arc.fee_rate());
            if (result == sign::Resigner::Result::fee_not_higher) {
                // The policy could not be re-read: the same fee would be
                // refused again. The job stays `sending`; the next run looks
                // it up and sends it (or meets the 465 with a fresh policy).
                m_unresolved.fetch_add(1, std::memory_order_relaxed);
                settle();
                break;
            }
            if (result == sign::Resigner::Result::cannot_pay) {
                if (!fail(job, model::FailCode::build_failed,
                          "ARC refused the fee (465) and the UTXO cannot pay the new rate (or "
                          "its value is unknown)",
                          now))
                    return false;
                break;
            }
            w.ticket = m_facts.try_emit(model::FactKind::tx_resigned, w.job, now);
            if (w.ticket == 0) return false;  // nothing changed yet: retry the same outcome
            m_resigned.fetch_add(1, std::memory_order_relaxed);
            m_waiting.push_back(w);
            return true;  // the job's final outcome comes later
        }
        case ArcVerdict::unresolved:
            m_unresolved.fetch_add(1, std::memory_order_relaxed);
            settle();
            break;
    }
    return true;
}

flow::Step NetworkSendStage::step(flow::Nanos now, std::size_t budget) noexcept {
    if (m_finished) return flow::Step::finished;
    bool progressed = false;
    bool blocked = false;

    // 1. Outcomes first: they free room in the client.
    for (std::size_t n = 0; n < budget; ++n) {
        if (!m_have_outcome) {
            if (!m_arc.try_take(m_outcome)) break;
            m_have_outcome = true;
        }
        if (!handle_outcome(now)) {
            blocked = true;
            break;
        }
        m_have_outcome = false;
        progressed = true;
    }

    // 2. Re-signed jobs whose new bytes are durable go out again.
    if (!m_waiting.empty()) {
        const model::FactTicket durable = m_facts.durable_through();
        for (std::size_t i = 0; i < m_waiting.size();) {
            Waiting& w = m_waiting[i];
            if (w.ticket > durable) {
                ++i;
                continue;
            }
            if (m_facts.refused(w.ticket)) {
                if (!fail(w.job, model::FailCode::storage_refused,
                          "the database refused the re-signed transaction", now)) {
                    blocked = true;
                    break;
                }
            } else if (!m_arc.try_submit(w.job)) {
                blocked = true;  // only after the client stopped (room is kept, see header)
                break;
            }
            m_waiting[i] = m_waiting.back();
            m_waiting.pop_back();
            progressed = true;
        }
    }

    // 3. New jobs to the client.
    for (std::size_t n = 0; n < budget; ++n) {
        if (!m_have_job) {
            if (!m_in.try_dequeue(m_job)) break;
            counters().add_in();
            m_have_job = true;
            progressed = true;
        }
        if (m_arc.outstanding() + m_waiting.size() >= m_client_capacity ||
            !m_arc.try_submit(m_job)) {
            blocked = true;
            break;
        }
        m_submitted.fetch_add(1, std::memory_order_relaxed);
        m_have_job = false;
        progressed = true;
    }

    if (!m_have_job && !m_have_outcome && m_waiting.empty() && m_input.closed_and_empty() &&
        m_arc.outstanding() == 0) {
        m_finished = true;
        return flow::Step::finished;
    }
    if (progressed) return flow::Step::progressed;
    return blocked ? flow::Step::blocked : flow::Step::idle;
}

}  // namespace raregen::send
