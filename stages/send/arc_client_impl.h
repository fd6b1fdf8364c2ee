#pragma once
// The ARC client's insides (stages/send/arc_client.h is the contract), shared
// by the files that implement it, one role each:
//   arc_client.cpp      the public API, settings, start/stop, and transport:
//                       the curl multi loop, the connection pool, launching
//                       requests and harvesting answers
//   arc_batching.cpp    submission: slots, the SPSC hand-offs with the send
//                       stage, batches (size, linger), backoff scheduling
//   arc_classify.cpp    reading ARC's answers: one verdict per transaction
//                       (POST /v1/txs entries, GET /v1/tx look-ups), splits
//   arc_policy.cpp      fee policy (GET /v1/policy) and the fee-refusal wait,
//                       retry backoff, whole-request refusals that stop a run
// Private: only those files include it.

#include <curl/curl.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/chain/tx.h"
#include "engine/flow/latency_histogram.h"
#include "engine/flow/spsc_ring.h"
#include "stages/send/arc_answer.h"
#include "stages/send/arc_client.h"
#include "stages/send/arc_status.h"

namespace raregen::send {

namespace arc_detail {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
namespace dom = simdjson::dom;
using Line = TextLine;

constexpr std::uint32_t k_none = 0xffffffffu;
// An answer larger than this is abandoned (a transport error): ARC's answer
// for a full batch is a few hundred KiB.
constexpr std::size_t k_max_answer_bytes = 64u << 20;
constexpr int k_start_policy_attempts = 3;

// The hand-offs between the send stage and the I/O thread: slot indices on
// the project's SPSC ring. The release store of one side's cursor publishes
// the slot it hands over (the job or the outcome written before the push),
// so the two threads never touch a slot at the same time.
using IndexRing = flow::SpscRing<std::uint32_t>;

// FIFO of indices used by one thread only.
class LocalFifo {
  public:
    explicit LocalFifo(std::size_t capacity) : m_items(std::max<std::size_t>(capacity, 1)) {}
    void push(std::uint32_t v) noexcept {
        m_items[(m_head + m_size) % m_items.size()] = v;
        ++m_size;
    }
    std::uint32_t front() const noexcept { return m_items[m_head]; }
    std::uint32_t pop() noexcept {
        const std::uint32_t v = m_items[m_head];
        m_head = (m_head + 1) % m_items.size();
        --m_size;
        return v;
    }
    std::size_t size() const noexcept { return m_size; }
    bool empty() const noexcept { return m_size == 0; }

  private:
    std::vector<std::uint32_t> m_items;
    std::size_t m_head = 0;
    std::size_t m_size = 0;
};

// Writes as much of `s` as fits (details are informative; cut, not refused).
template <std::size_t N>
void assign_cut(model::FixedString<N>& out, std::string_view s) noexcept {
    if (s.empty()) {
        out.size = 0;  // FixedString::assign would memcpy from a null pointer
        return;
    }
    out.assign(s.substr(0, std::min(s.size(), N)));
}

inline std::uint64_t mix(const chain::Hash256& h) noexcept {
    std::uint64_t k = 0;
    std::memcpy(&k, h.data(), sizeof k);
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

inline bool has_line_break(std::string_view s) {
    return s.find_first_of("\r\n") != std::string_view::npos;
}

inline std::uint64_t pack_rate(chain::FeeRate r) noexcept {
    return (r.satoshis << 32) | r.bytes;
}
inline chain::FeeRate unpack_rate(std::uint64_t v) noexcept {
    return {v >> 32, v & 0xffffffffu};
}

}  // namespace arc_detail

// The four implementation files read these unqualified.
using namespace arc_detail;

struct ArcClient::Impl {
    // What the I/O thread does with one job after an answer.
    enum class Action : std::uint8_t { none, done, fee_wait, retry_backoff, retry_now };
    enum class Kind : std::uint8_t { post, status };

    // One job held by the client. `out` belongs to the send thread while the
    // slot is free or queued for taking, to the I/O thread in between; the
    // rest is the I/O thread's.
    struct Slot {
        ArcOutcome out;
        std::uint32_t next = k_none;  // next job of the same batch
        std::uint32_t failures = 0;   // retryable failures so far
        TimePoint queued_at{};
        Action action = Action::none;
        std::array<char, 240> reason{};  // why it was last retried (for `unresolved`)
        std::uint8_t reason_size = 0;
    };
    // Jobs that travel together in one request (a list through Slot::next).
    struct Batch {
        Kind kind = Kind::post;
        std::uint32_t head = k_none, tail = k_none, count = 0;
        TimePoint not_before{};
    };
    struct Conn {
        CURL* easy = nullptr;
        std::unique_ptr<std::uint8_t[]> body;
        std::size_t body_size = 0;
        std::string answer;
        std::string url;  // GET /v1/tx/{txid}
        std::uint32_t batch = k_none;
        bool busy = false;
        TimePoint started{};
        std::vector<std::uint32_t> jobs;   // position in the body -> slot
        std::vector<std::uint32_t> table;  // txid hash -> position + 1 (0 empty)
        char error[CURL_ERROR_SIZE] = {};
    };

    ArcSettings s;
    // send-thread side
    std::vector<std::uint32_t> free_slots;
    std::vector<Slot> slots;
    IndexRing submitted;
    IndexRing done;
    std::atomic<std::size_t> outstanding{0};
    std::atomic<bool> wake_pending{false};
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> rate{0};
    // I/O thread side
    CURLM* multi = nullptr;
    std::vector<Conn> conns;
    Conn policy_conn;
    std::vector<Batch> batches;
    std::vector<std::uint32_t> free_batches;
    LocalFifo fresh;                     // jobs waiting to form a POST batch
    LocalFifo ready;                     // batches due now
    std::vector<std::uint32_t> delayed;  // batches in backoff
    std::vector<std::uint32_t> fee_wait, fee_in_read;
    bool policy_busy = false;
    bool policy_ok = false;  // last read succeeded
    TimePoint policy_due{};
    dom::parser parser;
    std::minstd_rand rng{std::random_device{}()};
    curl_slist* post_headers = nullptr;
    curl_slist* get_headers = nullptr;
    std::string txs_url, policy_url, tx_url_prefix;
    flow::RunContext* wake = nullptr;
    bool pushed = false;
    std::thread thread;
    std::mutex lifecycle;
    bool started = false;

    struct Counters {
        std::atomic<std::uint64_t> requests{0}, txs_posted{0}, retries{0}, timeouts{0},
            transport_errors{0}, http_5xx{0}, http_4xx{0}, auth_errors{0}, missing_entries{0},
            splits{0}, sent{0}, failed{0}, fee_too_low{0}, unresolved{0}, policy_reads{0},
            policy_failures{0}, status_checks{0}, request_refusals{0}, unanswered_in_a_row{0};
        // Clock::now() of the last policy read, in Clock ticks since its
        // epoch (0: never).
        std::atomic<std::int64_t> policy_read_at{0};
        flow::LatencyHistogram latency;  // one request, start to answer
    } c;

    // Whole requests ARC refused without naming a transaction (a header it
    // will not take, say), in a row: k_refusals_fatal of them, with nothing
    // answered in between, means a setting is wrong. The run is stopped,
    // jobs are left unresolved (never failed), and fatal_text says why.
    static constexpr std::uint32_t k_refusals_fatal = 3;
    std::uint32_t refusals_in_a_row = 0;  // I/O thread only
    std::atomic<bool> fatal{false};
    mutable std::mutex fatal_mu;
    std::string fatal_text;

    void note_request_refusal(std::string_view detail);

    static void add(std::atomic<std::uint64_t>& a, std::uint64_t n = 1) noexcept {
        a.fetch_add(n, std::memory_order_relaxed);
    }

    explicit Impl(ArcSettings settings);

    ~Impl();

    static std::size_t on_data(char* ptr, std::size_t size, std::size_t n, void* user) {
        auto* cn = static_cast<Conn*>(user);
        const std::size_t bytes = size * n;
        if (cn->answer.size() + bytes > k_max_answer_bytes) return 0;  // aborts the transfer
        cn->answer.append(ptr, bytes);
        return bytes;
    }

    void init_conn(Conn& cn);

    // ---- send-thread side -------------------------------------------------

    bool try_submit(const model::Job& job) noexcept;

    bool try_take(ArcOutcome& out) noexcept;

    // ---- policy -----------------------------------------------------------

    // Parses a /v1/policy answer; false if it has no usable miningFee.
    bool apply_policy(std::string& answer) noexcept;

    std::string read_policy_blocking();

    // ---- I/O thread ---------------------------------------------------------

    std::chrono::milliseconds backoff(std::uint32_t failures) noexcept;

    void set_reason(Slot& sl, std::string_view why) noexcept;

    void emit(std::uint32_t i, ArcVerdict v) noexcept;

    void emit_unresolved(std::uint32_t i) noexcept;

    std::uint32_t new_batch(Kind kind) noexcept;
    void batch_append(std::uint32_t b, std::uint32_t i) noexcept;

    void drain_submissions(TimePoint now) noexcept;

    void promote_due(TimePoint now) noexcept;

    Conn* free_conn() noexcept;

    void launch(Conn& cn, std::uint32_t b, TimePoint now) noexcept;

    // The policy connection, set up for GET /v1/policy (blocking at start-up,
    // through the multi handle afterwards).
    Conn& prepare_policy_get() noexcept;

    void launch_policy(TimePoint now) noexcept;

    void dispatch(TimePoint now) noexcept;

    TimePoint next_deadline(TimePoint now) const noexcept;

    void record_latency(TimePoint began, TimePoint now) noexcept { c.latency.record(now - began); }

    // Parses cn.answer in place; null element on failure.
    bool parse(Conn& cn, dom::element& root) noexcept { return parse_text(cn.answer, root); }
    // simdjson reads up to SIMDJSON_PADDING bytes past the text: pad inside
    // the string's size (no allocation once its capacity has grown).
    bool parse_text(std::string& text, dom::element& root) noexcept;

    // Position of the job (not yet decided) whose txid is `display`, or k_none.
    std::uint32_t find(const Conn& cn, std::string_view display) const noexcept;

    void build_table(Conn& cn, std::uint32_t n) noexcept;

    void decide(std::uint32_t i, Action a, std::uint16_t status, std::string_view why) noexcept;

    // One entry of a 200 answer (or a GET /v1/tx answer) for the job at `i`.
    void classify_entry(std::uint32_t i, dom::object obj) noexcept;

    void all(const Conn& cn, std::uint32_t n, Action a, std::uint16_t status,
             std::string_view why) noexcept {
        for (std::uint32_t p = 0; p < n; ++p)
            if (slots[cn.jobs[p]].action == Action::none) decide(cn.jobs[p], a, status, why);
    }

    void auth_failure(const Conn& cn, std::uint32_t n, long http) noexcept;

    void transport_reason(Line& l, const Conn& cn, CURLcode rc) noexcept;

    void on_post(Conn& cn, CURLcode rc, long http) noexcept;

    // Applies the decided actions of the request on `cn`, in body order.
    void settle(Conn& cn, std::uint32_t n, bool split) noexcept;

    void on_status(Conn& cn, CURLcode rc, long http) noexcept;

    void finish_fee_wait() noexcept;

    void on_policy(Conn& cn, CURLcode rc, long http, TimePoint now) noexcept;

    void harvest() noexcept;

    void run() noexcept;
};

}  // namespace raregen::send
