#pragma once
// GateStage: the rate gate. Lets a job through only with a token from the
// TokenBucket (MAX_TX_PER_3S per 3 s by default), stamps released_at and
// reports FactKind::tx_released.
//
// A token is taken only when the output has room and the job's fact has been
// accepted, so the time a token is granted is the time the job leaves: the
// bucket's guarantee (never more than capacity in any window of one period)
// holds for jobs handed to the network stage, not just for grants. With no
// token the stage returns idle and asks the runner to wake it when the next
// one is due. An input that has ended finishes the stage without waiting
// for a token.
//
// The fence: before a token, the gate holds each job until the FactSink
// says its tx_signed fact is durable (job.signed_ticket <= durable_through();
// ticket 0, a job recovered from storage, is durable already). A job whose
// fact storage refused fails here (FailCode::storage_refused) and never
// leaves. While it waits the stage is idle and asks to be woken after
// k_fence_poll; the write-behind also wakes the runner when it commits.
//
// Held tokens (config.hold_until_settled, used with ARC): `settled` counts the
// released jobs the network has answered for (the send stage adds to it);
// each step settles the new ones in the bucket, so a token's period starts
// at the answer, not at the release (token_bucket.h says why).
//
// Shared limit (optional `shared`, stages/gate/shared_allowance.h): a job
// also needs one of the tokens this engine holds of the limit all engines on
// the database share; without one the stage is idle until the lease thread
// grants more (it wakes the runner). Each step tells the allowance how many
// jobs wait for a token.
//
// Threads: one runner thread calls step(); `settled` may be written by any
// thread. Allocates nothing after construction.

#include <atomic>
#include <chrono>
#include <optional>

#include "engine/flow/channel.h"
#include "engine/flow/run_context.h"
#include "engine/flow/stage.h"
#include "engine/model/facts.h"
#include "engine/model/job.h"
#include "stages/gate/shared_allowance.h"
#include "stages/gate/token_bucket.h"

namespace raregen::gate {

class GateStage final : public flow::Stage {
  public:
    // `settled` (held mode only; must outlive the stage) is read each step;
    // `shared` (may be null; must outlive the stage): the shared limit.
    GateStage(TokenBucketConfig config, flow::Channel<model::Job>& input,
              flow::Channel<model::Job>& output, model::FactSink& facts, flow::RunContext& context,
              const std::atomic<std::uint64_t>* settled = nullptr,
              SharedAllowance* shared = nullptr);

    flow::Step step(flow::Nanos now, std::size_t budget) noexcept override;
    std::string_view name() const noexcept override { return "gate"; }

    const TokenBucket& bucket() const { return m_bucket; }
    // Steps that found the head job not yet durable; jobs refused by storage.
    // Any thread.
    std::uint64_t fence_waits() const noexcept {
        return m_fence_waits.load(std::memory_order_relaxed);
    }
    std::uint64_t refused() const noexcept { return m_refused.load(std::memory_order_relaxed); }

    // Steps that found no shared token (any thread).
    std::uint64_t shared_waits() const noexcept {
        return m_shared_waits.load(std::memory_order_relaxed);
    }

    static constexpr flow::Nanos k_fence_poll = std::chrono::milliseconds(2);
    // A fallback: the lease thread wakes the runner when it grants.
    static constexpr flow::Nanos k_shared_poll = std::chrono::milliseconds(20);

  private:
    // none: no job in hand; token: a job waits for room, a token and its
    // fact; enqueue: token taken and fact out, the job is leaving.
    enum class Pending : std::uint8_t { none, token, enqueue };
    flow::Step step_jobs(flow::Nanos now, std::size_t budget) noexcept;

    TokenBucket m_bucket;
    flow::Channel<model::Job>::Consumer m_in;
    flow::Channel<model::Job>::Producer m_out;
    flow::Channel<model::Job>& m_input;
    flow::Channel<model::Job>& m_output;
    model::FactSink& m_facts;
    flow::RunContext& m_context;
    const std::atomic<std::uint64_t>* m_settled;
    SharedAllowance* m_shared;
    bool m_have_shared = false;  // a shared token taken for the job in hand
    std::uint64_t m_settled_seen = 0;
    model::Job m_job;  // the job in hand (valid unless m_pending == none)
    Pending m_pending = Pending::none;
    bool m_finished = false;
    std::atomic<std::uint64_t> m_fence_waits{0};
    std::atomic<std::uint64_t> m_refused{0};
    std::atomic<std::uint64_t> m_shared_waits{0};
};

}  // namespace raregen::gate
