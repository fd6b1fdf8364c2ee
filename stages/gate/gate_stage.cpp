#include "stages/gate/gate_stage.h"

#include <algorithm>
#include <cstdint>

namespace raregen::gate {

GateStage::GateStage(TokenBucketConfig config, flow::Channel<model::Job>& input,
                     flow::Channel<model::Job>& output, model::FactSink& facts,
                     flow::RunContext& context, const std::atomic<std::uint64_t>* settled,
                     SharedAllowance* shared)
    : m_bucket(config),
      m_in(input.make_consumer()),
      m_out(output.make_producer()),
      m_input(input),
      m_output(output),
      m_facts(facts),
      m_context(context),
      m_settled(settled),
      m_shared(shared) {
    counters().set_depth_gauge(flow::depth_gauge_of(input));
}

flow::Step GateStage::step(flow::Nanos now, std::size_t budget) noexcept {
    const flow::Step s = step_jobs(now, budget);
    if (m_shared != nullptr)
        m_shared->set_demand(m_input.size() + (m_pending == Pending::token ? 1 : 0));
    return s;
}

flow::Step GateStage::step_jobs(flow::Nanos now, std::size_t budget) noexcept {
    if (m_finished) return flow::Step::finished;
    if (m_settled != nullptr) {
        const std::uint64_t settled = m_settled->load(std::memory_order_acquire);
        if (settled != m_settled_seen) {
            m_bucket.settle(now, static_cast<std::uint32_t>(std::min<std::uint64_t>(
                                     settled - m_settled_seen, UINT32_MAX)));
            m_settled_seen = settled;
        }
    }
    bool progressed = false;
    for (std::size_t moved = 0; moved < budget; ++moved) {
        if (m_pending == Pending::none) {
            if (!m_in.try_dequeue(m_job)) break;
            counters().add_in();
            m_pending = Pending::token;
            progressed = true;  // an input item was taken (wakes the upstream)
        }
        if (m_pending == Pending::token) {
            // The fence: nothing leaves before its signed bytes and its
            // UTXO's spend are durable. The write-behind wakes the runner
            // when its watermark moves; the deadline is only a fallback.
            if (m_job.signed_ticket > m_facts.durable_through()) {
                m_fence_waits.store(m_fence_waits.load(std::memory_order_relaxed) + 1,
                                    std::memory_order_relaxed);
                m_context.wake_by(now + k_fence_poll);
                return progressed ? flow::Step::progressed : flow::Step::idle;
            }
            if (m_job.signed_ticket != 0 && m_facts.refused(m_job.signed_ticket)) {
                // Storage did not take the signed transaction (the job is not
                // ours, or its record is already published): it never leaves.
                m_job.fail = model::FailCode::storage_refused;
                if (!m_facts.try_emit(model::FactKind::job_failed, m_job, now))
                    return progressed ? flow::Step::progressed : flow::Step::blocked;
                counters().add_rejected();
                m_refused.store(m_refused.load(std::memory_order_relaxed) + 1,
                                std::memory_order_relaxed);
                m_pending = Pending::none;
                progressed = true;
                continue;
            }
            // The token is taken, and released_at stamped, only when the job
            // can leave at once: its fact is accepted and the output has room.
            // So the grant time is the leave time and the bucket's window
            // guarantee holds for what reaches the network stage.
            if (m_output.size() >= m_output.capacity())
                return progressed ? flow::Step::progressed : flow::Step::blocked;
            if (m_bucket.available(now) == 0) {
                // Held tokens have no return time until the network answers;
                // the send stage's answers wake the runner then.
                if (const flow::Nanos next = m_bucket.next_token_at(now);
                    next != flow::Nanos::max())
                    m_context.wake_by(next);
                return progressed ? flow::Step::progressed : flow::Step::idle;
            }
            // The shared limit's token, kept for this job once taken.
            if (m_shared != nullptr && !m_have_shared) {
                if (!m_shared->try_take()) {
                    m_shared_waits.store(m_shared_waits.load(std::memory_order_relaxed) + 1,
                                         std::memory_order_relaxed);
                    m_shared->set_demand(m_input.size() + 1);
                    m_context.wake_by(now + k_shared_poll);
                    return progressed ? flow::Step::progressed : flow::Step::idle;
                }
                m_have_shared = true;
            }
            m_job.released_at = now;
            if (!m_facts.try_emit(model::FactKind::tx_released, m_job, now))
                return progressed ? flow::Step::progressed : flow::Step::blocked;
            m_bucket.try_take(now, 1);
            m_have_shared = false;
            m_pending = Pending::enqueue;
        }
        // Room was seen above, this stage is the output's only producer and
        // the send stage its only consumer: a single-consumer channel never
        // refuses below capacity (channel.h), so this does not fail in practice.
        if (!m_out.try_enqueue(m_job))
            return progressed ? flow::Step::progressed : flow::Step::blocked;
        counters().add_out();
        m_pending = Pending::none;
        progressed = true;
    }
    if (m_pending == Pending::none && m_input.closed_and_empty()) {
        m_out.close();
        m_finished = true;
        return flow::Step::finished;
    }
    return progressed ? flow::Step::progressed : flow::Step::idle;
}

}  // namespace raregen::gate
