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
      m_options(options) {
    if (m_options.resign_room == 0) m_options.resign_room = 1;
    m_waiting.reserve(m_options.resign_room);
    m_resign_counts.reserve(m_options.resign_room);
    counters().set_depth_gauge(flow::depth_gauge_of(input));
}

std::uint32_t NetworkSendStage::resigns_of(const model::Job& job) const noexcept {
    for (const auto& [id, n] : m_resign_counts)
        if (id == job.job_id) return n;
    return 0;
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
            if (!fail(job, double_spend ? model::FailCode::double_spend
                                        : model::FailCode::network_rejected,
                      m_outcome.detail.view(), now))
                return false;
            break;
        }
        case ArcVerdict::fee_too_low: {
            const std::uint32_t done = resigns_of(job);
            if (m_resigner == nullptr || done >= m_options.max_resigns) {
                if (!fail(job, model::FailCode::network_rejected, m_outcome.detail.view(), now))
                    return false;
                break;
            }
            if (m_waiting.size() == m_waiting.capacity()) return false;  // room first
            Waiting w{job, 0, done + 1};
            if (!m_resigner->resign(w.job, m_arc.fee_rate())) {
                if (!fail(job, model::FailCode::build_failed,
                          "the network asked for a higher fee than the UTXO can pay", now))
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
    // A final outcome: forget the job's re-sign count.
    if (!m_resign_counts.empty()) {
        auto it = std::find_if(m_resign_counts.begin(), m_resign_counts.end(),
                               [&](const auto& e) { return e.first == job.job_id; });
        if (it != m_resign_counts.end()) {
            *it = m_resign_counts.back();
            m_resign_counts.pop_back();
        }
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
            } else {
                if (m_resign_counts.size() == m_resign_counts.capacity() &&
                    resigns_of(w.job) == 0) {
                    blocked = true;
                    break;
                }
                if (!m_arc.try_submit(w.job)) {
                    blocked = true;
                    break;
                }
                auto it = std::find_if(m_resign_counts.begin(), m_resign_counts.end(),
                                       [&](const auto& e) { return e.first == w.job.job_id; });
                if (it != m_resign_counts.end())
                    it->second = w.resigns;
                else
                    m_resign_counts.emplace_back(w.job.job_id, w.resigns);
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
        if (!m_arc.try_submit(m_job)) {
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
