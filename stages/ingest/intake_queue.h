#pragma once
// IntakeQueue: intents handed to the ingest stage by other threads (the HTTP
// API's request threads), one at a time each, every one with an answer the
// stage fills in. It is the in-process twin of the NDJSON input: the stage
// validates a submitted body exactly as it validates a line (same checks,
// same order, same reasons), so a client sees what a file's reject log says.
//
//   submitter (any thread)             ingest stage (runner thread)
//   submit(body, answer) ──push──>     pop() -> validate -> job_accepted fact
//        blocks until judged  <──────  complete(answer): rejected, or accepted
//                                      with the fact's ticket and the job id
//
// An accepted answer is NOT yet durable: the submitter waits until the fact
// sink's durable_through() reaches answer.ticket (and checks refused()) before
// it may acknowledge anything (design.md invariant 1).
//
// Bounded: at most `capacity` requests wait; submit() returns `full` at once
// beyond that (the API answers 503 + Retry-After: backpressure, never an
// unbounded queue). A request the stage has not taken within the submitter's
// timeout is withdrawn (`timed_out`: the stage is held up, e.g. by a full
// write-behind); one the stage is judging is waited for (its fact may be on
// its way). After close() (the stage finished: stop requested), submit()
// returns `closed`, and requests that were waiting are answered `closed` by
// the stage's drain: no submitter waits forever.
//
// Threads: submit() from any number of threads; pop/complete/close/drain
// from the stage's one runner thread. No allocation after construction (the
// body is the submitter's, which stays blocked while the stage reads it).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

#include "engine/chain/hash.h"
#include "engine/model/facts.h"
#include "engine/model/job.h"
#include "stages/ingest/intent.h"

namespace raregen::ingest {

// What the stage decided about one submitted intent. Owned by the submitter.
struct IntakeAnswer {
    enum class Verdict : std::uint8_t { rejected, accepted, closed };
    Verdict verdict = Verdict::closed;

    // rejected
    RejectReason reason = RejectReason::schema;
    FixedText<96> field;
    FixedText<256> message;
    // stale and nonce_replay: the record's hash (RFC 8785 form), so the
    // caller can find a job already made from the same record
    bool record_hash_known = false;

    // accepted (and record_hash for the cases above; record_id whenever the
    // intent named a valid one)
    bool record_id_known = false;
    model::FixedString<model::k_max_record_id> record_id;
    model::JobId job_id{};
    chain::Hash256 record_hash{};
    model::FactTicket ticket = 0;  // the job_accepted fact

    // set by the stage when it has answered (under the queue's lock), and
    // the submitter's own wake-up: completing one intent wakes its submitter
    // only, not every waiting one (a thousand, at 1,000 connections)
    bool done = false;
    std::condition_variable answered;
};

class IntakeQueue {
  public:
    enum class Submit : std::uint8_t { judged, full, closed, timed_out };
    struct Request {
        std::string_view body;
        IntakeAnswer* answer = nullptr;
    };

    // Throws std::invalid_argument for capacity 0.
    explicit IntakeQueue(std::size_t capacity);

    // Wakes the stage's runner after a push (set once, before any submit).
    void set_waker(std::function<void()> wake) { m_wake = std::move(wake); }

    // Any thread. Queues `body` and blocks until the stage has answered
    // (`judged`), or returns at once: `full` (capacity waiting), `closed`; or
    // `timed_out` when the stage did not take it within `timeout` (then it is
    // withdrawn and never judged).
    Submit submit(std::string_view body, IntakeAnswer& answer,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // ---- the stage's side (one thread) ----
    bool pop(Request& out) noexcept;
    // Answers a popped request; the submitter may return (and destroy the
    // answer) as soon as this releases the lock.
    void complete(IntakeAnswer& answer, IntakeAnswer::Verdict verdict) noexcept;
    // No submit() succeeds after this; then answers every waiting request
    // `closed`.
    void close() noexcept;

    std::size_t capacity() const noexcept { return m_ring.size(); }
    std::size_t waiting() const noexcept;
    bool closed() const noexcept;

  private:
    mutable std::mutex m_mu;
    std::vector<Request> m_ring;
    std::size_t m_head = 0;  // next to pop
    std::size_t m_size = 0;
    bool m_closed = false;
    std::function<void()> m_wake;
};

}  // namespace raregen::ingest
