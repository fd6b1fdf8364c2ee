#pragma once
// ArcClient: broadcasts signed jobs to ARC (docs/protocol.md §5) and reports one
// outcome per job.
//
// Shape
//   The send stage hands jobs in with try_submit() and collects outcomes with
//   try_take(); neither blocks. One I/O thread owned by the client does all
//   the network work with libcurl's multi interface: it batches jobs into
//   POST /v1/txs (EF bytes concatenated, application/octet-stream), keeps up
//   to max_in_flight requests in flight over kept-alive connections, matches
//   every answer entry to its job by txid (never by position), classifies it,
//   retries what may be retried (same bytes, exponential backoff with full
//   jitter) and reads GET /v1/policy for the fee rate.
//
// Threads
//   constructor, start(), stop(), destructor: the owning thread, not
//       concurrently with each other nor with try_submit/try_take.
//   try_submit(), try_take(): ONE thread (the send stage's). Neither blocks
//       (a lock-free single-producer/single-consumer ring each way) nor
//       allocates; each copies one job/outcome. try_submit may be called
//       before start(): the jobs wait for the I/O thread.
//   outstanding(), fee_rate(), stats(): any thread; atomic loads only.
//   The `wake` context given to start() is called from the I/O thread after
//   it has pushed outcomes, so a parked send stage picks them up.
//
// Memory: the constructor allocates everything the steady state needs:
//   `capacity` job slots (a job plus its outcome each), one easy handle and
//   one body buffer of batch_max * model::k_max_tx_bytes per in-flight slot,
//   answer buffers and the JSON parser (which grow to the largest answer seen
//   and are then reused). Per request only libcurl's own bookkeeping
//   allocates.
//
// Time: the I/O thread reads std::chrono::steady_clock for linger, backoff
// and policy refresh. It is not a stage: its deadlines are network deadlines,
// which libcurl measures on the real clock anyway. Tests therefore wait by
// polling with generous deadlines, never by asserting durations.
//
// Invariant 3 (docs/design.md): a job's bytes are never modified, a job whose
// answer is unknown (timeout, dropped connection, retries exhausted, auth
// trouble) is reported `unresolved`, never `failed`, so the caller neither
// fails it nor re-signs it. Recovered jobs (signed_ticket == 0) are first
// looked up with GET /v1/tx/{txid} and broadcast only if ARC does not hold
// them.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/chain/fees.h"
#include "engine/flow/run_context.h"
#include "engine/model/fixed_string.h"
#include "engine/model/job.h"

namespace raregen::send {

struct ArcSettings {
    std::string url;      // base URL, e.g. http://127.0.0.1:9090 (a trailing slash is dropped)
    std::string api_key;  // empty: no Authorization header. Never logged, never in an error text.
    std::string wait_for = "SEEN_ON_NETWORK";  // X-WaitFor (empty: header not sent)
    int max_timeout_s = 5;                     // X-MaxTimeout, 1..30 (ARC's limit)
    std::string callback_url;                  // X-CallbackUrl (+ X-CallbackBatch: true) when set
    std::string callback_token;                // X-CallbackToken when set
    std::size_t batch_max = 500;               // txs per POST /v1/txs
    // How long the oldest queued job may wait for its batch to fill when
    // fewer than batch_max are queued (0: send at once).
    std::chrono::milliseconds linger{2};
    std::size_t max_in_flight = 4;  // concurrent POST/GET requests (kept-alive connections)
    std::size_t capacity = 8192;    // jobs held: submitted, outcome not yet taken
    // Whole-request timeout. Keep it above max_timeout_s, or requests that
    // wait for SEEN_ON_NETWORK time out (and end unresolved).
    std::chrono::milliseconds request_timeout{15000};
    int max_attempts = 8;                         // per job: retryable failures before `unresolved`
    std::chrono::milliseconds backoff_base{100};  // delay = rand(0, min(max, base * 2^failures))
    std::chrono::milliseconds backoff_max{5000};
    chain::FeeRate fee_floor{};  // fee_rate() never goes below this
    std::chrono::milliseconds policy_refresh{60000};
};

enum class ArcVerdict : std::uint8_t {
    sent,         // the network holds it: any accepted txStatus (QUEUED ... SEEN_ON_NETWORK,
                  // MINED), from the broadcast or, for a recovered job, from GET /v1/tx
    failed,       // refused for good: REJECTED, DOUBLE_SPEND_ATTEMPTED, or a 4xx error
                  // for this tx other than 465 (461 script, 463 malformed, ...)
    fee_too_low,  // ARC 465. GET /v1/policy has been re-read before this outcome is
                  // reported: fee_rate() is the new rate; the caller re-signs
    unresolved,   // no definite answer: retries exhausted, or ARC refused the API key.
                  // The tx MAY be on the network: neither fail the job nor re-sign it
};
std::string_view arc_verdict_name(ArcVerdict v) noexcept;

struct ArcOutcome {
    model::Job job;  // the job as submitted (bytes untouched)
    ArcVerdict verdict = ArcVerdict::unresolved;
    std::uint16_t arc_status = 0;  // HTTP/ARC status of the entry (200, 461, 503...; 0 transport)
    model::FixedString<32> tx_status;  // ARC txStatus when the answer had one
    model::FixedString<240> detail;    // readable reason (empty when plainly sent)
    std::uint32_t attempts = 0;        // requests that carried or looked up this job
};

struct ArcStats {
    std::uint64_t requests = 0;    // HTTP requests started (POST, GET tx, GET policy)
    std::uint64_t txs_posted = 0;  // transactions carried by POST /v1/txs (retries count again)
    std::uint64_t retries = 0;     // jobs put back for another request
    std::uint64_t timeouts = 0;    // requests that hit request_timeout
    std::uint64_t transport_errors = 0;  // refused, reset, dropped, partial or unreadable answers
    std::uint64_t http_5xx = 0;          // whole-request 5xx and 429 answers
    std::uint64_t http_4xx = 0;          // whole-request 4xx answers other than 401/403
    std::uint64_t auth_errors = 0;       // 401/403: the API key was refused
    std::uint64_t missing_entries = 0;   // posted txs absent from a 200 answer
    std::uint64_t splits = 0;            // batches re-sent one tx per request after a 4xx
    std::uint64_t request_refusals = 0;  // whole-request 4xx naming no tx (no verdict)
    std::uint64_t sent = 0;              // outcomes by verdict
    std::uint64_t failed = 0;
    std::uint64_t fee_too_low = 0;
    std::uint64_t unresolved = 0;
    std::uint64_t policy_reads = 0;     // successful GET /v1/policy (start-up included)
    std::uint64_t policy_failures = 0;  // failed GET /v1/policy
    std::uint64_t status_checks = 0;    // GET /v1/tx/{txid} for recovered jobs
    // Reachability, for health reports: requests in a row that got no usable
    // answer (timeout, transport error, 5xx, 429; any other answer resets it),
    // and the age of the last policy ARC served (-1: never).
    std::uint64_t unanswered_in_a_row = 0;
    std::int64_t policy_age_ms = -1;
    // Request latency (completed requests), from flow::LatencyHistogram
    // (log-linear, within ~6%): upper bound of the bucket holding the
    // percentile, microseconds. 0: none yet.
    std::uint64_t latency_p50_us = 0;
    std::uint64_t latency_p99_us = 0;
};

class ArcClient {
  public:
    // Validates the settings (std::invalid_argument naming the setting and
    // what to do; never the API key) and allocates everything (see top).
    explicit ArcClient(ArcSettings settings);
    ~ArcClient();  // stop()
    ArcClient(const ArcClient&) = delete;
    ArcClient& operator=(const ArcClient&) = delete;

    // Blocking, at start-up: reads GET /v1/policy (3 attempts with backoff),
    // then starts the I/O thread. Returns "" on success, else an error for
    // the operator (what was wrong, what to do; never the API key) and starts
    // nothing. `wake` may be null; it must outlive the client's I/O thread.
    std::string start(flow::RunContext* wake);

    // Hands one job over (copied). False when `capacity` jobs are held or
    // after stop(): keep the job and try again later.
    bool try_submit(const model::Job& job) noexcept;
    // Takes the next outcome, in completion order. False if none is ready.
    bool try_take(ArcOutcome& out) noexcept;
    // Submitted minus taken.
    std::size_t outstanding() const noexcept;

    // max(latest policy miningFee, fee_floor).
    chain::FeeRate fee_rate() const noexcept;
    ArcStats stats() const noexcept;

    // Ends the I/O thread (abandoning requests in flight). Jobs not yet
    // reported stay outstanding and are never reported: after a crash-free
    // stop, the caller's storage still says `sending` for them and recovery
    // looks them up by txid. Outcomes already pushed can still be taken.
    // Idempotent.
    void stop() noexcept;

    const ArcSettings& settings() const noexcept;
    // Why the client stopped the run, or "": ARC refused several whole
    // requests in a row without naming a transaction (a setting is wrong).
    // Any thread.
    std::string fatal_error() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace raregen::send
