#include "stages/pipeline/pipeline.h"

#include <stdexcept>

namespace raregen::pipeline {

namespace {
constexpr std::size_t k_worker_light = 0;  // ingest, sequence, gate, send
constexpr std::size_t k_worker_sign = 1;
}  // namespace

Pipeline::Pipeline(const PipelineConfig& config, PipelineParts parts) {
    if (parts.nonces == nullptr || parts.signers == nullptr || parts.ring == nullptr ||
        parts.key == nullptr || parts.facts == nullptr || parts.clock == nullptr)
        throw std::invalid_argument(
            "pipeline: every part (nonces, signers, ring, key, facts, clock) is required");
    if ((parts.sink == nullptr) == (parts.arc == nullptr))
        throw std::invalid_argument(
            "pipeline: exactly one of a sink and an ARC client is required");
    if (config.channel_capacity == 0)
        throw std::invalid_argument("pipeline: channel capacity must be at least 1");

    flow::RunnerOptions ro;
    ro.threads = 2;
    ro.budget = config.budget;
    m_runner = std::make_unique<flow::Runner>(*parts.clock, ro);
    flow::RunContext& ctx = m_runner->context();

    const std::size_t producers = config.external_inputs ? 2 : 1;
    m_ingested = std::make_unique<JobChannel>(config.channel_capacity, producers);
    m_sequenced = std::make_unique<JobChannel>(config.channel_capacity, producers);
    m_signed = std::make_unique<JobChannel>(config.channel_capacity, producers);
    m_released = std::make_unique<JobChannel>(config.channel_capacity);

    m_ingest = &m_runner->emplace<ingest::IngestStage>(k_worker_light, parts.input_fd, *m_ingested,
                                                       *parts.facts, ctx, *parts.nonces,
                                                       *parts.signers, config.ingest);
    sequence::SequencerConfig sc;
    sc.prefix = config.batch_prefix;
    sc.window = config.batch_window;
    sc.max_batch_size = config.max_batch_size;
    m_sequence = &m_runner->emplace<sequence::SequenceStage>(k_worker_light, sc, *m_ingested,
                                                             *m_sequenced, *parts.facts, ctx);
    m_sign = &m_runner->emplace<sign::SignStage>(
        k_worker_sign, *m_sequenced, *m_signed, *parts.ring, *parts.key, *parts.facts, config.sign);
    // With ARC a token's period starts when the network has answered for its
    // transaction, so the limit holds for what the network receives.
    gate::TokenBucketConfig gate_config = config.gate;
    if (parts.arc != nullptr) gate_config.hold_until_settled = true;
    m_gate = &m_runner->emplace<gate::GateStage>(
        k_worker_light, gate_config, *m_signed, *m_released, *parts.facts, ctx,
        parts.arc != nullptr ? &m_settled : nullptr,
        parts.arc != nullptr ? parts.shared_rate : nullptr);
    if (parts.sink != nullptr)
        m_send = &m_runner->emplace<send::FileSendStage>(k_worker_light, *m_released, *parts.sink,
                                                         *parts.facts);
    else
        m_network_send = &m_runner->emplace<send::NetworkSendStage>(
            k_worker_light, *m_released, *parts.arc, *parts.facts, parts.resigner,
            send::NetworkSendOptions{.settled = &m_settled});
    if (config.external_inputs) {
        m_external = std::make_unique<ExternalInputs>(ExternalInputs{
            m_ingested->make_producer(), m_sequenced->make_producer(), m_signed->make_producer()});
    }
}

Pipeline::ExternalInputs Pipeline::take_external_inputs() {
    if (!m_external)
        throw std::logic_error(
            "pipeline: no external inputs (set PipelineConfig::external_inputs, take them once)");
    ExternalInputs out = std::move(*m_external);
    m_external.reset();
    return out;
}

Pipeline::~Pipeline() = default;

void Pipeline::start() {
    m_runner->start();
}
void Pipeline::wait() {
    m_runner->wait();
}
void Pipeline::request_stop() noexcept {
    m_runner->request_stop();
}

std::vector<StageReport> Pipeline::report() const {
    std::vector<StageReport> out;
    for (std::size_t i = 0; i < m_runner->stage_count(); ++i) {
        const flow::Stage& s = m_runner->stage(i);
        out.push_back({std::string(s.name()), s.counters().snapshot()});
    }
    return out;
}

}  // namespace raregen::pipeline
