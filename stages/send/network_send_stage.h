#pragma once
// NetworkSendStage: the last stage when transactions go to ARC. It hands
// each released job to the ArcClient (which batches, sends and retries on
// its own thread) and turns the client's outcomes into facts:
//   sent         tx_sent (and the intake-to-sent latency)
//   failed       job_failed with the network's answer as error_detail
//                (network_rejected, or double_spend); the write-behind marks
//                the UTXO dirty
//   fee_too_low  (ARC 465) the job is signed again on the same UTXO at the
//                client's new fee rate (sign::Resigner), tx_resigned is
//                emitted, and the new bytes go out only once that fact is
//                durable (the same fence the gate applies to tx_signed);
//                refused by storage: job_failed storage_refused. At most
//                `max_resigns` times per job, then failed.
//   unresolved   the client gave up retrying (timeouts, 5xx): the
//                transaction may be on the network, so the job is neither
//                failed nor re-signed; it stays `sending` in storage, counted
//                here, and the next run checks it at ARC (GET /v1/tx) before
//                sending the same bytes again.
// It finishes once its input has ended and every job has an outcome.
//
// Threads: one runner thread calls step(). The client wakes the runner when
// outcomes arrive. Allocates nothing per item (the re-sign waiting list is
// preallocated; when it is full, outcomes wait in the client).

#include <atomic>
#include <cstdint>
#include <vector>

#include "engine/flow/channel.h"
#include "engine/flow/latency_histogram.h"
#include "engine/flow/stage.h"
#include "engine/model/facts.h"
#include "engine/model/job.h"
#include "stages/send/arc_client.h"
#include "stages/sign/resigner.h"

namespace raregen::send {

struct NetworkSendOptions {
    std::size_t resign_room = 1024;  // jobs re-signed and waiting for durability at once
    std::uint8_t max_resigns = 3;    // per job: a policy that keeps rising is an error
    // Counts jobs with a final answer (sent, failed, unresolved): the gate's
    // held tokens start their period then (gate_stage.h). May be null.
    std::atomic<std::uint64_t>* settled = nullptr;
};

class NetworkSendStage final : public flow::Stage {
  public:
    // `resigner` may be null: a 465 then fails the job (network_rejected).
    NetworkSendStage(flow::Channel<model::Job>& input, ArcClient& arc, model::FactSink& facts,
                     sign::Resigner* resigner, NetworkSendOptions options = {});

    flow::Step step(flow::Nanos now, std::size_t budget) noexcept override;
    std::string_view name() const noexcept override { return "send"; }

    std::uint64_t submitted() const noexcept { return m_submitted.load(std::memory_order_relaxed); }
    std::uint64_t sent() const noexcept { return m_sent.load(std::memory_order_relaxed); }
    std::uint64_t failed() const noexcept { return m_failed.load(std::memory_order_relaxed); }
    std::uint64_t resigned() const noexcept { return m_resigned.load(std::memory_order_relaxed); }
    std::uint64_t unresolved() const noexcept {
        return m_unresolved.load(std::memory_order_relaxed);
    }
    const flow::LatencyHistogram& latency() const noexcept { return m_latency; }

  private:
    struct Waiting {
        model::Job job;
        model::FactTicket ticket = 0;
    };
    // Returns false if the fact sink is full (keep m_outcome, try later).
    bool handle_outcome(flow::Nanos now) noexcept;
    bool fail(model::Job& job, model::FailCode code, std::string_view detail,
              flow::Nanos now) noexcept;
    void settle() noexcept {
        if (m_options.settled != nullptr)
            m_options.settled->fetch_add(1, std::memory_order_release);
    }

    flow::Channel<model::Job>::Consumer m_in;
    flow::Channel<model::Job>& m_input;
    ArcClient& m_arc;
    model::FactSink& m_facts;
    sign::Resigner* m_resigner;
    NetworkSendOptions m_options;

    model::Job m_job;
    bool m_have_job = false;
    ArcOutcome m_outcome;
    bool m_have_outcome = false;
    // Re-signed, fact not yet durable (capacity resign_room). The client
    // keeps room for each of them: new jobs are submitted only while
    // outstanding + waiting < its capacity, so a re-signed job can always go
    // back out (otherwise a client full of new jobs, whose outcomes wait
    // behind a full waiting list, would never move again).
    std::vector<Waiting> m_waiting;
    std::size_t m_client_capacity;

    std::atomic<std::uint64_t> m_submitted{0}, m_sent{0}, m_failed{0}, m_resigned{0},
        m_unresolved{0};
    flow::LatencyHistogram m_latency;
    bool m_finished = false;
};

}  // namespace raregen::send
