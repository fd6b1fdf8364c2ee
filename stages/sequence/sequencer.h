#pragma once
// Cuts the stream of jobs into batches, names each batch, and numbers its
// jobs 1..N in arrival order with no gaps.
//
// A batch opens with its first job and closes when `window` has elapsed since
// that job arrived (BATCH_WINDOW_MS) or when it holds `max_batch_size` jobs
// (MAX_BATCH_SIZE), whichever comes first; flush() closes it at end of stream.
// Jobs are not stored here: the caller stamps each job with the Assignment
// it gets back, so the sequencer knows nothing of the job type.
//
// Determinism: which batch a job joins and its number depend only on the
// order of assign() calls and the `now` each one is given, never on when (or
// whether) poll() is called in between. An assign() that finds the open
// batch's window already run out closes that batch first (reported in
// Assignment::expired, closed_at = its deadline) and opens a new one. So poll()
// is for closing a batch on time when no job comes, not for correctness.
//
// Windows are half-open: a job arriving exactly `window` after the batch's
// first job starts the next batch.
//
// Batch ids: BatchId is a 64-bit counter (first_batch, first_batch + 1, ...
// in opening order). Its printable form, BatchName, is "b-<prefix>-<number>"
// in a fixed char array; the prefix names the instance or run, so that ids
// from different engines or restarts never collide. Choosing a prefix unique
// per run is the caller's job.
//
// Time: `now` from any monotonic clock. The sequencer's timeline is the
// running maximum of the `now` values it is given; an earlier `now` is treated
// as the latest one seen (a stepped-back clock never reopens or stretches a
// window).
//
// Threads: none of its own, no locks, no atomics. One thread owns a sequencer
// at a time; calls must not race. Handing it to another thread needs the
// usual happens-before.
//
// Memory: nothing is allocated after construction; every call is O(1).

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string_view>

namespace raregen::sequence {

// The seed's BATCH_WINDOW_MS and MAX_BATCH_SIZE.
inline constexpr std::chrono::nanoseconds k_default_window = std::chrono::milliseconds(5000);
inline constexpr std::uint32_t k_default_max_batch_size = 500;

inline constexpr std::size_t k_max_prefix_size = 32;
// "b-" + prefix + "-" + up to 20 decimal digits.
inline constexpr std::size_t k_max_batch_name_size = 2 + k_max_prefix_size + 1 + 20;

struct BatchId {
    std::uint64_t number = 0;
    friend auto operator<=>(const BatchId&, const BatchId&) = default;
};

// A batch's printable id, NUL-terminated. Trivially copyable: a job or a fact
// can carry it by value.
struct BatchName {
    std::array<char, k_max_batch_name_size + 1> text{};
    std::uint8_t size = 0;
    std::string_view view() const { return {text.data(), size}; }
    const char* c_str() const { return text.data(); }
};

enum class CloseReason : std::uint8_t {
    window,  // `window` elapsed since the batch's first job
    size,    // the batch reached max_batch_size jobs
    flush,   // flush() closed it before either
};
std::string_view close_reason_name(CloseReason reason);

struct BatchClosed {
    BatchId batch;
    std::uint32_t size = 0;  // its jobs are numbered 1..size
    CloseReason reason = CloseReason::window;
    std::chrono::nanoseconds opened_at{};  // arrival of its first job
    // window: opened_at + window (even when noticed later); size: arrival of
    // its last job; flush: the `now` given to flush().
    std::chrono::nanoseconds closed_at{};
};

struct Assignment {
    BatchId batch;          // the batch this job joins
    std::uint32_t seq = 0;  // its batch_seq: 1..N in arrival order, no gaps
    // Set when this job filled the batch: it closed with this job (reason size).
    std::optional<BatchClosed> filled;
    // Set when the previously open batch's window had already run out when
    // this job arrived (poll() was not called in time): that batch closed
    // before this job, at its deadline, and this job opened a new one.
    std::optional<BatchClosed> expired;

    bool closes_batch() const { return filled.has_value(); }
};

struct SequencerConfig {
    std::string_view prefix;  // 1..32 of [A-Za-z0-9._-]; copied, need not outlive
    std::chrono::nanoseconds window = k_default_window;       // > 0
    std::uint32_t max_batch_size = k_default_max_batch_size;  // >= 1
    std::uint64_t first_batch = 1;                            // >= 1
};

class Sequencer {
  public:
    // Throws std::invalid_argument (start-up only) on a bad setting; the
    // message says which one and what to set.
    explicit Sequencer(SequencerConfig config);

    // Places one arriving job: returns its batch and batch_seq, and any batch
    // that closed on the way (see Assignment).
    Assignment assign(std::chrono::nanoseconds now);

    // Closes the open batch if its window has run out by `now`.
    std::optional<BatchClosed> poll(std::chrono::nanoseconds now);

    // When the open batch's window runs out (the time to park until), or
    // nothing if no batch is open. Saturates at nanoseconds::max().
    std::optional<std::chrono::nanoseconds> next_deadline() const;

    // End of stream: closes the open batch, if any. Its reason is `window`
    // (closed_at = deadline) if the window had run out by `now`, else `flush`.
    std::optional<BatchClosed> flush(std::chrono::nanoseconds now);

    // "b-<prefix>-<number>". Formats into the returned value; no allocation.
    BatchName name_of(BatchId batch) const;

    std::optional<BatchId> open_batch() const;
    std::uint32_t open_batch_size() const { return m_open ? m_open_size : 0; }
    std::uint64_t jobs_assigned() const { return m_jobs_assigned; }
    std::uint64_t batches_closed() const { return m_batches_closed; }

    std::chrono::nanoseconds window() const { return std::chrono::nanoseconds(m_window_ns); }
    std::uint32_t max_batch_size() const { return m_max_batch_size; }
    std::string_view prefix() const { return {m_name_head.data() + 2, m_name_head_size - 3u}; }

  private:
    std::int64_t advance(std::chrono::nanoseconds now);
    bool window_ran_out(std::int64_t t) const;
    BatchClosed close(CloseReason reason, std::int64_t closed_at_ns);
    std::int64_t deadline_ns() const;

    // "b-<prefix>-", written once.
    std::array<char, 2 + k_max_prefix_size + 1> m_name_head{};
    std::uint8_t m_name_head_size = 0;
    std::int64_t m_window_ns;
    std::uint32_t m_max_batch_size;

    std::uint64_t m_next_batch;
    bool m_open = false;
    BatchId m_open_batch;
    std::uint32_t m_open_size = 0;
    std::int64_t m_opened_ns = 0;
    std::int64_t m_latest_ns;  // running maximum of `now`

    std::uint64_t m_jobs_assigned = 0;
    std::uint64_t m_batches_closed = 0;
};

}  // namespace raregen::sequence
