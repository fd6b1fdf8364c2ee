#pragma once
// FileSendStage: the last stage. Hands each released job to a TxSink and
// reports FactKind::tx_sent (or job_failed when the sink refuses it for good).
// At end of stream it flushes the sink before finishing, so a drained run
// has everything on disk or on the network.
//
// Threads: one runner thread calls step(). Allocates nothing per item.

#include <atomic>
#include <cstdint>

#include "engine/flow/channel.h"
#include "engine/flow/stage.h"
#include "engine/model/facts.h"
#include "engine/model/job.h"
#include "stages/send/tx_sink.h"

namespace raregen::send {

class FileSendStage final : public flow::Stage {
  public:
    FileSendStage(flow::Channel<model::Job>& input, TxSink& sink, model::FactSink& facts);

    flow::Step step(flow::Nanos now, std::size_t budget) noexcept override;
    std::string_view name() const noexcept override { return "send"; }

    // Any thread (progress lines read them while the stage runs).
    std::uint64_t sent() const noexcept { return m_sent.load(std::memory_order_relaxed); }
    std::uint64_t failed() const noexcept { return m_failed.load(std::memory_order_relaxed); }
    bool flush_failed() const noexcept { return m_flush_failed; }

  private:
    enum class Pending : std::uint8_t { none, send, fact_sent, fact_failed };

    flow::Channel<model::Job>::Consumer m_in;
    flow::Channel<model::Job>& m_input;
    TxSink& m_sink;
    model::FactSink& m_facts;
    model::Job m_job;
    Pending m_pending = Pending::none;
    std::atomic<std::uint64_t> m_sent{0};
    std::atomic<std::uint64_t> m_failed{0};
    bool m_flush_failed = false;
    bool m_finished = false;
};

}  // namespace raregen::send
