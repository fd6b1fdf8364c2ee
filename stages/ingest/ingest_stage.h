#pragma once
// IngestStage: the file source of the pipeline. Reads NDJSON intents (one
// `POST /v1/publish` body per line) from a file descriptor - a file, or
// stdin / a pipe - validates each one (intent.h), and turns every accepted
// intent into a model::Job:
//   intake_seq   1, 2, ... over accepted intents, in input order
//   job_id       16 bytes from a seeded PRNG (UUID v4 layout): the same seed
//                gives the same ids, so runs are reproducible; the CLI seeds
//                from the OS (random_seed())
//   record_id, record_hash   from the intent
//   accepted_at  the runner's `now`
// For each job it first emits FactKind::job_accepted to the FactSink, then
// enqueues the job (the write-behind hears of a job before any later stage
// can report on it). If either is full it keeps the job, returns blocked and
// offers it again (fact first if that was what failed) on the next call.
//
// Lines
//   * Blank lines (only spaces, tabs, CR) are skipped and not counted as
//     items; they do count for line numbers (1-based) in the reject log.
//   * A line longer than max_line bytes (excluding its newline) is rejected as
//     too_large and skipped as it streams by: it is never buffered whole.
//   * A last line without a newline is still an intent.
//   * Every rejected line is counted per reason (rejected(reason), atomics
//     readable from any thread while the stage runs) and, if a RejectSink is
//     set, reported to it (line number, reason, field, message, recordId).
//
// Queue mode (IngestOptions::queue): the same checks over bodies submitted
// by other threads (intake_queue.h); rejects are answered to the submitter
// (and counted, and reported to the RejectSink with the request's number as
// its line), an empty body is bad_json.
//
// Step: reads and validates at most `budget` lines per call. Stops at end of
// input, or when the RunContext's stop flag is set: then it still hands on
// the job it holds (nothing accepted is dropped), closes its output and
// finishes. A read error also ends the input (input_error() tells).
//
// I/O in step(): reading the input is I/O, which the stage contract allows a
// file source. Reads are buffered (one read() fills a buffer of about
// 2 * max_line, default 128 KiB). For a pipe or terminal the stage first
// poll()s with a zero timeout, so step() never waits for a writer: with no
// data it returns idle and asks to be woken after `poll_interval`. (A slow
// disk can still stall a read of a regular file; use a pipe if that matters.)
// The fd is not owned: it must stay open while the stage lives and is never
// closed here.
//
// Threads: one runner thread calls step(); rejected(), lines_read() and
// counters() may be read from any thread. The NonceStore, SignerRegistry,
// FactSink, RejectSink, output channel and RunContext must outlive the stage.
// Memory: the constructor sizes every buffer (read buffer, simdjson parser
// for max_line bytes, canonicalizer, JCS text). After the first few intents
// step() allocates nothing.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "engine/flow/channel.h"
#include "engine/flow/run_context.h"
#include "engine/flow/stage.h"
#include "engine/model/facts.h"
#include "engine/model/job.h"
#include "stages/ingest/intake_queue.h"
#include "stages/ingest/intent.h"

namespace raregen::ingest {

// One rejected line, as handed to a RejectSink. Views are valid only during
// the call.
struct RejectEvent {
    std::uint64_t line = 0;  // 1-based line number in the input
    RejectReason reason = RejectReason::schema;
    std::string_view field;  // may be empty
    std::string_view message;
    std::string_view record_id;  // empty when not known
    bool record_id_known = false;
};

// Receives rejects on the stage's thread, synchronously. Must not throw and
// should not block for long (it runs inside step()).
class RejectSink {
  public:
    virtual ~RejectSink() = default;
    virtual void on_reject(const RejectEvent& event) noexcept = 0;
};

// Writes one JSON object per reject to a FILE*:
//   {"line":12,"reason":"schema","field":"record.owners[1].shareBps",
//    "message":"...","recordId":"rec-1"}      (recordId null when unknown)
// Buffered by stdio; the FILE* is not owned (flush/close it after the run).
// Formats into a reused string: no allocation per reject after the first.
class JsonLinesRejectWriter final : public RejectSink {
  public:
    explicit JsonLinesRejectWriter(std::FILE* out);
    void on_reject(const RejectEvent& event) noexcept override;
    // False once a write has failed (the rest are then skipped).
    bool ok() const noexcept { return m_ok; }

  private:
    std::FILE* m_out;
    std::string m_line;
    bool m_ok = true;
};

// Job ids: xoshiro256** seeded through splitmix64; 16 bytes per id with the
// UUID version-4 and variant bits set. Not cryptographic: ids need to be
// unique and reproducible, not unpredictable.
class JobIdGenerator {
  public:
    explicit JobIdGenerator(std::uint64_t seed) noexcept;
    model::JobId next() noexcept;

  private:
    std::uint64_t next_u64() noexcept;
    std::array<std::uint64_t, 4> m_s{};
};

// 64 bits from the OS CSPRNG, for seeding JobIdGenerator in production.
// Throws std::runtime_error if the CSPRNG fails (start-up only).
std::uint64_t random_seed();

struct IngestOptions {
    // Longest line accepted (bytes, without the newline); also the largest
    // intent the validator is sized for (overrides validator.max_intent_bytes).
    std::size_t max_line = 64 * 1024;
    // Seed for job ids.
    std::uint64_t seed = 0;
    // Wall time = runner now + wall_offset (wall_time.h). 0 with a ManualClock
    // that already reads Unix time.
    flow::Nanos wall_offset{0};
    // How soon to look again when a pipe has no data.
    flow::Nanos poll_interval = std::chrono::milliseconds(1);
    ValidatorOptions validator;
    // Optional; not owned.
    RejectSink* reject_sink = nullptr;
    // Optional; not owned. When set, intents come from this queue (the HTTP
    // API) instead of the file descriptor, which is then not read at all:
    // each request is judged like a line and answered (rejected, or
    // accepted with its job_accepted ticket once that fact is emitted). The
    // input ends only when stop is requested; the queue is then closed and
    // what waits in it answered `closed`.
    IntakeQueue* queue = nullptr;
};

class IngestStage final : public flow::Stage {
  public:
    // Makes the output's producer handle (set-up). Throws std::invalid_argument
    // on a bad option (max_line 0 or over 1 GiB), std::bad_alloc.
    IngestStage(int input_fd, flow::Channel<model::Job>& output, model::FactSink& facts,
                flow::RunContext& context, NonceStore& nonces, const SignerRegistry& signers,
                IngestOptions options);

    flow::Step step(flow::Nanos now, std::size_t budget) noexcept override;
    std::string_view name() const noexcept override { return "ingest"; }

    // Lines rejected for `reason` so far. Any thread.
    std::uint64_t rejected(RejectReason reason) const noexcept {
        return m_rejects[static_cast<std::size_t>(reason)].load(std::memory_order_relaxed);
    }
    // Non-blank lines read so far (accepted + rejected). Any thread.
    std::uint64_t lines_read() const noexcept { return m_lines.load(std::memory_order_relaxed); }
    // Jobs accepted so far (the last intake_seq given). Any thread.
    std::uint64_t accepted() const noexcept { return m_accepted.load(std::memory_order_relaxed); }
    // True once the stage has finished (end of input, or stop). Any thread.
    bool input_finished() const noexcept { return m_done.load(std::memory_order_acquire); }
    // errno of the read that failed, or 0. Read after the stage finished.
    int input_error() const noexcept { return m_input_error; }

  private:
    enum class Next : std::uint8_t {
        line,       // `line` holds the next line (a view into the read buffer)
        line_done,  // an over-long line was skipped and already rejected
        wait,       // no complete line and no data to read right now
        end,        // end of input (or a read error)
    };
    // Finds the next line, reading more as needed.
    Next next_line(std::string_view& line) noexcept;
    bool refill() noexcept;  // false: no bytes now (wait) or end/error (m_eof)
    void handle_line(std::string_view line, flow::Nanos now) noexcept;
    void reject_line(RejectReason reason, std::string_view field, std::string_view message,
                     const IntentVerdict* verdict) noexcept;
    void reject_too_large() noexcept;
    bool deliver(flow::Nanos now) noexcept;
    flow::Step finish() noexcept;
    flow::Step step_queue(flow::Nanos now, std::size_t budget, bool progressed) noexcept;

    int m_fd;
    bool m_pollable;  // a pipe, socket or terminal: poll before reading
    flow::Channel<model::Job>::Producer m_out;
    model::FactSink& m_facts;
    flow::RunContext& m_context;
    IngestOptions m_options;
    IntentValidator m_validator;
    JobIdGenerator m_ids;

    std::unique_ptr<char[]> m_buf;
    std::size_t m_buf_size;
    std::size_t m_begin = 0;  // unconsumed bytes are [m_begin, m_end)
    std::size_t m_end = 0;
    std::size_t m_scan = 0;  // no newline in [m_begin, m_scan)
    bool m_eof = false;
    int m_input_error = 0;
    // Skipping an over-long line: its size so far and its line number.
    bool m_skipping = false;
    std::uint64_t m_skip_bytes = 0;
    std::uint64_t m_skip_line = 0;
    std::uint64_t m_line_no = 0;

    IntakeAnswer* m_answer = nullptr;  // queue mode: the request being judged

    model::Job m_job;
    std::string_view m_canonical;  // the held job's JCS record (the validator's buffer)
    enum class Pending : std::uint8_t { none, fact, enqueue } m_pending = Pending::none;
    bool m_finished = false;
    std::atomic<bool> m_done{false};

    std::atomic<std::uint64_t> m_lines{0};
    std::atomic<std::uint64_t> m_accepted{0};
    std::array<std::atomic<std::uint64_t>, k_reject_reasons> m_rejects{};
};

}  // namespace raregen::ingest
