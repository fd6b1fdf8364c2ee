#include "stages/send/arc_client.h"

#include <curl/curl.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/chain/tx.h"
#include "stages/send/arc_answer.h"
#include "stages/send/arc_status.h"

namespace raregen::send {

namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
namespace dom = simdjson::dom;
using Line = TextLine;

constexpr std::uint32_t k_none = 0xffffffffu;
// An answer larger than this is abandoned (a transport error): ARC's answer
// for a full batch is a few hundred KiB.
constexpr std::size_t k_max_answer_bytes = 64u << 20;
constexpr int k_start_policy_attempts = 3;
constexpr std::size_t k_latency_buckets = 40;

std::once_flag g_curl_init;

// Single producer, single consumer ring of slot indices. The release store
// of one side's cursor publishes the slot it hands over (the job or the
// outcome written before the push), so the two threads never touch a slot at
// the same time.
class IndexRing {
  public:
    explicit IndexRing(std::size_t capacity)
        : m_mask(std::bit_ceil(std::max<std::size_t>(capacity, 2)) - 1),
          m_items(std::make_unique<std::uint32_t[]>(m_mask + 1)) {}
    bool push(std::uint32_t v) noexcept {
        const std::size_t t = m_tail.load(std::memory_order_relaxed);
        if (t - m_head.load(std::memory_order_acquire) > m_mask) return false;
        m_items[t & m_mask] = v;
        m_tail.store(t + 1, std::memory_order_release);
        return true;
    }
    bool pop(std::uint32_t& v) noexcept {
        const std::size_t h = m_head.load(std::memory_order_relaxed);
        if (h == m_tail.load(std::memory_order_acquire)) return false;
        v = m_items[h & m_mask];
        m_head.store(h + 1, std::memory_order_release);
        return true;
    }

  private:
    std::size_t m_mask;
    std::unique_ptr<std::uint32_t[]> m_items;
    alignas(64) std::atomic<std::size_t> m_head{0};
    alignas(64) std::atomic<std::size_t> m_tail{0};
};

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

std::uint64_t mix(const chain::Hash256& h) noexcept {
    std::uint64_t k = 0;
    std::memcpy(&k, h.data(), sizeof k);
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

bool has_line_break(std::string_view s) {
    return s.find_first_of("\r\n") != std::string_view::npos;
}

std::uint64_t pack_rate(chain::FeeRate r) noexcept {
    return (r.satoshis << 32) | r.bytes;
}
chain::FeeRate unpack_rate(std::uint64_t v) noexcept {
    return {v >> 32, v & 0xffffffffu};
}

}  // namespace

std::string_view arc_verdict_name(ArcVerdict v) noexcept {
    switch (v) {
        case ArcVerdict::sent:
            return "sent";
        case ArcVerdict::failed:
            return "failed";
        case ArcVerdict::fee_too_low:
            return "fee_too_low";
        case ArcVerdict::unresolved:
            return "unresolved";
    }
    return "unknown";
}

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
            policy_failures{0}, status_checks{0}, request_refusals{0};
        std::array<std::atomic<std::uint64_t>, k_latency_buckets> latency{};
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

    void note_request_refusal(std::string_view detail) {
        add(c.request_refusals);
        if (++refusals_in_a_row < k_refusals_fatal || fatal.load(std::memory_order_acquire)) return;
        {
            std::lock_guard lock(fatal_mu);
            fatal_text = "ARC refused " + std::to_string(refusals_in_a_row) +
                         " requests in a row as a whole, naming no transaction (" +
                         std::string(detail) +
                         "): a setting is wrong, not a transaction. Check --arc-wait-for "
                         "(X-WaitFor), --callback-url and --callback-token-file. The "
                         "transactions are left unresolved, never failed; the next run looks "
                         "each up by txid";
        }
        fatal.store(true, std::memory_order_release);
        if (wake != nullptr) wake->request_stop();
    }

    static void add(std::atomic<std::uint64_t>& a, std::uint64_t n = 1) noexcept {
        a.fetch_add(n, std::memory_order_relaxed);
    }

    explicit Impl(ArcSettings settings)
        : s(std::move(settings)),
          slots(s.capacity),
          submitted(s.capacity),
          done(s.capacity),
          conns(s.max_in_flight),
          batches(s.capacity),
          fresh(s.capacity),
          ready(s.capacity) {
        free_slots.reserve(s.capacity);
        for (std::size_t i = s.capacity; i-- > 0;)
            free_slots.push_back(static_cast<std::uint32_t>(i));
        free_batches.reserve(s.capacity);
        for (std::size_t i = s.capacity; i-- > 0;)
            free_batches.push_back(static_cast<std::uint32_t>(i));
        delayed.reserve(s.capacity);
        fee_wait.reserve(s.capacity);
        fee_in_read.reserve(s.capacity);
        rate.store(pack_rate(s.fee_floor), std::memory_order_relaxed);

        std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
        txs_url = s.url + "/v1/txs";
        policy_url = s.url + "/v1/policy";
        tx_url_prefix = s.url + "/v1/tx/";

        const auto append = [](curl_slist*& list, const std::string& h) {
            curl_slist* n = curl_slist_append(list, h.c_str());
            if (n == nullptr) throw std::bad_alloc();
            list = n;
        };
        if (!s.api_key.empty()) {
            append(post_headers, "Authorization: Bearer " + s.api_key);
            append(get_headers, "Authorization: Bearer " + s.api_key);
        }
        append(post_headers, "Content-Type: application/octet-stream");
        append(post_headers, "Expect:");  // no 100-continue round trip
        if (!s.wait_for.empty()) append(post_headers, "X-WaitFor: " + s.wait_for);
        append(post_headers, "X-MaxTimeout: " + std::to_string(s.max_timeout_s));
        if (!s.callback_url.empty()) {
            append(post_headers, "X-CallbackUrl: " + s.callback_url);
            append(post_headers, "X-CallbackBatch: true");
        }
        if (!s.callback_token.empty()) append(post_headers, "X-CallbackToken: " + s.callback_token);
        append(get_headers, "Accept: application/json");

        multi = curl_multi_init();
        if (multi == nullptr) throw std::runtime_error("ARC client: curl_multi_init failed");
        // One connection per in-flight slot plus one for the policy reader,
        // so a 465's policy re-read never queues behind slow POSTs.
        curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          static_cast<long>(s.max_in_flight + 1));
        curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(s.max_in_flight + 1));
        const std::size_t table_size = std::bit_ceil(2 * s.batch_max);
        for (Conn& cn : conns) {
            init_conn(cn);
            cn.body = std::make_unique<std::uint8_t[]>(s.batch_max * model::k_max_tx_bytes);
            cn.jobs.resize(s.batch_max);
            cn.table.resize(table_size);
            cn.url.reserve(tx_url_prefix.size() + 64);
            cn.answer.reserve(4096 + s.batch_max * 256);
        }
        init_conn(policy_conn);
        policy_conn.answer.reserve(4096);
    }

    ~Impl() {
        for (Conn& cn : conns)
            if (cn.easy != nullptr) curl_easy_cleanup(cn.easy);
        if (policy_conn.easy != nullptr) curl_easy_cleanup(policy_conn.easy);
        if (multi != nullptr) curl_multi_cleanup(multi);
        curl_slist_free_all(post_headers);
        curl_slist_free_all(get_headers);
    }

    static std::size_t on_data(char* ptr, std::size_t size, std::size_t n, void* user) {
        auto* cn = static_cast<Conn*>(user);
        const std::size_t bytes = size * n;
        if (cn->answer.size() + bytes > k_max_answer_bytes) return 0;  // aborts the transfer
        cn->answer.append(ptr, bytes);
        return bytes;
    }

    void init_conn(Conn& cn) {
        cn.easy = curl_easy_init();
        if (cn.easy == nullptr) throw std::runtime_error("ARC client: curl_easy_init failed");
        curl_easy_setopt(cn.easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(cn.easy, CURLOPT_WRITEFUNCTION, &Impl::on_data);
        curl_easy_setopt(cn.easy, CURLOPT_WRITEDATA, &cn);
        curl_easy_setopt(cn.easy, CURLOPT_PRIVATE, &cn);
        curl_easy_setopt(cn.easy, CURLOPT_ERRORBUFFER, cn.error);
        curl_easy_setopt(cn.easy, CURLOPT_TIMEOUT_MS, static_cast<long>(s.request_timeout.count()));
        curl_easy_setopt(cn.easy, CURLOPT_CONNECTTIMEOUT_MS,
                         static_cast<long>(s.request_timeout.count()));
        curl_easy_setopt(cn.easy, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(cn.easy, CURLOPT_TCP_KEEPALIVE, 1L);
    }

    // ---- send-thread side -------------------------------------------------

    bool try_submit(const model::Job& job) noexcept {
        if (stopping.load(std::memory_order_acquire) || free_slots.empty()) return false;
        const std::uint32_t i = free_slots.back();
        free_slots.pop_back();
        ArcOutcome& o = slots[i].out;
        o.job = job;
        o.verdict = ArcVerdict::unresolved;
        o.arc_status = 0;
        o.tx_status = {};
        o.detail = {};
        o.attempts = 0;
        submitted.push(i);  // cannot fail: at most `capacity` slots exist
        outstanding.fetch_add(1, std::memory_order_relaxed);
        // One wake-up per I/O loop turn at most: the I/O thread clears the
        // flag before it drains, so a push it may miss always finds the flag
        // clear and wakes it.
        if (!wake_pending.exchange(true, std::memory_order_acq_rel)) curl_multi_wakeup(multi);
        return true;
    }

    bool try_take(ArcOutcome& out) noexcept {
        std::uint32_t i = 0;
        if (!done.pop(i)) return false;
        out = slots[i].out;
        free_slots.push_back(i);
        outstanding.fetch_sub(1, std::memory_order_relaxed);
        return true;
    }

    // ---- policy -----------------------------------------------------------

    // Parses a /v1/policy answer; false if it has no usable miningFee.
    bool apply_policy(std::string& answer) noexcept {
        dom::element root;
        if (!parse_text(answer, root)) return false;
        chain::FeeRate live;
        if (!arc_policy_fee(root, live)) return false;
        const chain::FeeRate eff = live.at_least(s.fee_floor) ? live : s.fee_floor;
        rate.store(pack_rate(eff), std::memory_order_release);
        add(c.policy_reads);
        return true;
    }

    std::string read_policy_blocking() {
        std::string last;
        for (int attempt = 0; attempt < k_start_policy_attempts; ++attempt) {
            if (attempt > 0)
                std::this_thread::sleep_for(backoff(static_cast<std::uint32_t>(attempt)));
            Conn& cn = prepare_policy_get();
            add(c.requests);
            const CURLcode rc = curl_easy_perform(cn.easy);
            long http = 0;
            curl_easy_getinfo(cn.easy, CURLINFO_RESPONSE_CODE, &http);
            if (rc != CURLE_OK) {
                add(c.policy_failures);
                last = "cannot reach ARC at " + s.url + " (GET /v1/policy: " +
                       (cn.error[0] != '\0' ? std::string(cn.error) : curl_easy_strerror(rc)) +
                       "): check ARC_URL and that ARC is running";
                continue;
            }
            if (http == 401 || http == 403) {
                add(c.policy_failures);
                add(c.auth_errors);
                return "ARC at " + s.url + " refused the API key (HTTP " + std::to_string(http) +
                       " on GET /v1/policy): check ARC_API_KEY";
            }
            if (http != 200) {
                add(c.policy_failures);
                last = "ARC at " + s.url + " answered HTTP " + std::to_string(http) +
                       " to GET /v1/policy: check ARC_URL points at an ARC server and that it is "
                       "healthy";
                if (http < 500 && http != 429) return last;
                continue;
            }
            if (!apply_policy(cn.answer)) {
                add(c.policy_failures);
                return "ARC at " + s.url +
                       " answered GET /v1/policy without a usable policy.miningFee: check ARC_URL "
                       "points at an ARC server";
            }
            return {};
        }
        return last + " (" + std::to_string(k_start_policy_attempts) + " attempts)";
    }

    // ---- I/O thread ---------------------------------------------------------

    std::chrono::milliseconds backoff(std::uint32_t failures) noexcept {
        const auto base = static_cast<std::uint64_t>(s.backoff_base.count());
        const auto cap = static_cast<std::uint64_t>(s.backoff_max.count());
        const std::uint32_t shift = std::min<std::uint32_t>(failures, 30);
        const std::uint64_t ceiling = std::min(cap, base << shift);
        if (ceiling == 0) return std::chrono::milliseconds{0};
        std::uniform_int_distribution<std::uint64_t> d(0, ceiling);
        return std::chrono::milliseconds{static_cast<std::int64_t>(d(rng))};
    }

    void set_reason(Slot& sl, std::string_view why) noexcept {
        const std::size_t n = std::min(why.size(), sl.reason.size());
        if (n > 0) std::memcpy(sl.reason.data(), why.data(), n);
        sl.reason_size = static_cast<std::uint8_t>(n);
    }

    void emit(std::uint32_t i, ArcVerdict v) noexcept {
        ArcOutcome& o = slots[i].out;
        o.verdict = v;
        switch (v) {
            case ArcVerdict::sent:
                add(c.sent);
                break;
            case ArcVerdict::failed:
                add(c.failed);
                break;
            case ArcVerdict::fee_too_low:
                add(c.fee_too_low);
                break;
            case ArcVerdict::unresolved:
                add(c.unresolved);
                break;
        }
        done.push(i);  // cannot fail: at most `capacity` slots exist
        pushed = true;
    }

    void emit_unresolved(std::uint32_t i) noexcept {
        Slot& sl = slots[i];
        Line l;
        l << "no definite answer after " << std::uint64_t{sl.out.attempts} << " attempts ("
          << std::string_view(sl.reason.data(), sl.reason_size)
          << "); the tx may be on the network: look it up by txid before re-signing";
        assign_cut(sl.out.detail, l.view());
        emit(i, ArcVerdict::unresolved);
    }

    std::uint32_t new_batch(Kind kind) noexcept {
        const std::uint32_t b = free_batches.back();
        free_batches.pop_back();
        batches[b] = Batch{};
        batches[b].kind = kind;
        return b;
    }
    void batch_append(std::uint32_t b, std::uint32_t i) noexcept {
        Batch& bt = batches[b];
        slots[i].next = k_none;
        if (bt.tail == k_none)
            bt.head = i;
        else
            slots[bt.tail].next = i;
        bt.tail = i;
        ++bt.count;
    }

    void drain_submissions(TimePoint now) noexcept {
        std::uint32_t i = 0;
        while (submitted.pop(i)) {
            Slot& sl = slots[i];
            sl.failures = 0;
            sl.reason_size = 0;
            sl.next = k_none;
            if (fatal.load(std::memory_order_acquire)) {
                // ARC refuses every request: nothing more is posted. The job
                // stays `sending`, for the next run to look up by txid.
                set_reason(sl, "not sent: ARC refuses every request (see the run's error)");
                emit_unresolved(i);
                continue;
            }
            if (sl.out.job.signed_ticket == 0) {
                // Recovered from storage: it may already be out there.
                const std::uint32_t b = new_batch(Kind::status);
                batch_append(b, i);
                ready.push(b);
            } else {
                sl.queued_at = now;
                fresh.push(i);
            }
        }
    }

    void promote_due(TimePoint now) noexcept {
        for (std::size_t k = 0; k < delayed.size();) {
            if (batches[delayed[k]].not_before <= now) {
                ready.push(delayed[k]);
                delayed[k] = delayed.back();
                delayed.pop_back();
            } else {
                ++k;
            }
        }
    }

    Conn* free_conn() noexcept {
        for (Conn& cn : conns)
            if (!cn.busy) return &cn;
        return nullptr;
    }

    void launch(Conn& cn, std::uint32_t b, TimePoint now) noexcept {
        Batch& bt = batches[b];
        cn.batch = b;
        cn.answer.clear();
        cn.error[0] = '\0';
        std::uint32_t pos = 0;
        for (std::uint32_t i = bt.head; i != k_none; i = slots[i].next) {
            ++slots[i].out.attempts;
            cn.jobs[pos++] = i;
        }
        if (bt.kind == Kind::post) {
            std::size_t off = 0;
            for (std::uint32_t p = 0; p < pos; ++p) {
                const auto ef = slots[cn.jobs[p]].out.job.ef.span();
                std::memcpy(cn.body.get() + off, ef.data(), ef.size());
                off += ef.size();
            }
            cn.body_size = off;
            curl_easy_setopt(cn.easy, CURLOPT_URL, txs_url.c_str());
            curl_easy_setopt(cn.easy, CURLOPT_HTTPHEADER, post_headers);
            curl_easy_setopt(cn.easy, CURLOPT_POST, 1L);
            curl_easy_setopt(cn.easy, CURLOPT_POSTFIELDS, cn.body.get());
            curl_easy_setopt(cn.easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(off));
            add(c.txs_posted, pos);
        } else {
            static constexpr char k_hex[] = "0123456789abcdef";
            const chain::Hash256& id = slots[bt.head].out.job.txid;
            cn.url.assign(tx_url_prefix);
            for (std::size_t k = id.size(); k-- > 0;) {
                cn.url.push_back(k_hex[id[k] >> 4]);
                cn.url.push_back(k_hex[id[k] & 0x0f]);
            }
            curl_easy_setopt(cn.easy, CURLOPT_HTTPGET, 1L);
            curl_easy_setopt(cn.easy, CURLOPT_URL, cn.url.c_str());
            curl_easy_setopt(cn.easy, CURLOPT_HTTPHEADER, get_headers);
            add(c.status_checks);
        }
        cn.busy = true;
        cn.started = now;
        add(c.requests);
        curl_multi_add_handle(multi, cn.easy);
    }

    // The policy connection, set up for GET /v1/policy (blocking at start-up,
    // through the multi handle afterwards).
    Conn& prepare_policy_get() noexcept {
        Conn& cn = policy_conn;
        cn.answer.clear();
        cn.error[0] = '\0';
        curl_easy_setopt(cn.easy, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(cn.easy, CURLOPT_URL, policy_url.c_str());
        curl_easy_setopt(cn.easy, CURLOPT_HTTPHEADER, get_headers);
        return cn;
    }

    void launch_policy(TimePoint now) noexcept {
        Conn& cn = prepare_policy_get();
        cn.busy = true;
        cn.started = now;
        policy_busy = true;
        // Jobs refused for their fee so far wait for THIS read, which starts
        // after their 465 was seen.
        fee_in_read.insert(fee_in_read.end(), fee_wait.begin(), fee_wait.end());
        fee_wait.clear();
        add(c.requests);
        curl_multi_add_handle(multi, cn.easy);
    }

    void dispatch(TimePoint now) noexcept {
        if (!policy_busy && (!fee_wait.empty() || now >= policy_due)) launch_policy(now);
        for (Conn* cn = free_conn(); cn != nullptr; cn = free_conn()) {
            if (!ready.empty()) {
                launch(*cn, ready.pop(), now);
                continue;
            }
            if (fresh.empty()) break;
            const bool full = fresh.size() >= s.batch_max;
            if (!full && now < slots[fresh.front()].queued_at + s.linger) break;
            const std::uint32_t b = new_batch(Kind::post);
            while (!fresh.empty() && batches[b].count < s.batch_max)
                batch_append(b, fresh.pop());
            launch(*cn, b, now);
        }
    }

    TimePoint next_deadline(TimePoint now) const noexcept {
        TimePoint t = now + std::chrono::milliseconds{1000};
        if (!policy_busy) t = std::min(t, policy_due);
        for (std::uint32_t b : delayed)
            t = std::min(t, batches[b].not_before);
        if (!fresh.empty()) {
            bool any_free = false;
            for (const Conn& cn : conns)
                any_free = any_free || !cn.busy;
            if (any_free) t = std::min(t, slots[fresh.front()].queued_at + s.linger);
        }
        return t;
    }

    void record_latency(TimePoint began, TimePoint now) noexcept {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - began).count();
        const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(us, 1));
        const std::size_t bucket = std::min<std::size_t>(
            static_cast<std::size_t>(std::bit_width(v)), k_latency_buckets - 1);
        add(c.latency[bucket]);
    }

    // Parses cn.answer in place; null element on failure.
    bool parse(Conn& cn, dom::element& root) noexcept { return parse_text(cn.answer, root); }
    // simdjson reads up to SIMDJSON_PADDING bytes past the text: pad inside
    // the string's size (no allocation once its capacity has grown).
    bool parse_text(std::string& text, dom::element& root) noexcept {
        const std::size_t n = text.size();
        text.resize(n + simdjson::SIMDJSON_PADDING, '\0');
        return parse_arc_json(parser, std::string_view(text.data(), n), root);
    }

    // Position of the job (not yet decided) whose txid is `display`, or k_none.
    std::uint32_t find(const Conn& cn, std::string_view display) const noexcept {
        const auto id = chain::hash_from_display(display);
        if (!id) return k_none;
        const std::size_t mask = cn.table.size() - 1;
        for (std::size_t h = mix(*id) & mask; cn.table[h] != 0; h = (h + 1) & mask) {
            const std::uint32_t pos = cn.table[h] - 1;
            const Slot& sl = slots[cn.jobs[pos]];
            if (sl.action == Action::none && sl.out.job.txid == *id) return pos;
        }
        return k_none;
    }

    void build_table(Conn& cn, std::uint32_t n) noexcept {
        std::fill(cn.table.begin(), cn.table.end(), 0u);
        const std::size_t mask = cn.table.size() - 1;
        for (std::uint32_t pos = 0; pos < n; ++pos) {
            std::size_t h = mix(slots[cn.jobs[pos]].out.job.txid) & mask;
            while (cn.table[h] != 0)
                h = (h + 1) & mask;
            cn.table[h] = pos + 1;
        }
    }

    void decide(std::uint32_t i, Action a, std::uint16_t status, std::string_view why) noexcept {
        Slot& sl = slots[i];
        sl.action = a;
        sl.out.arc_status = status;
        if (a == Action::retry_backoff || a == Action::retry_now) set_reason(sl, why);
        if (a == Action::done || a == Action::fee_wait) assign_cut(sl.out.detail, why);
    }

    // One entry of a 200 answer (or a GET /v1/tx answer) for the job at `i`.
    void classify_entry(std::uint32_t i, dom::object obj) noexcept {
        Slot& sl = slots[i];
        const ArcEntry e = classify_arc_entry(obj);
        if (!e.tx_status.empty()) assign_cut(sl.out.tx_status, e.tx_status);
        switch (e.kind) {
            case ArcEntryKind::sent:
                decide(i, Action::done, e.status, {});
                sl.out.verdict = ArcVerdict::sent;
                break;
            case ArcEntryKind::failed:
                decide(i, Action::done, e.status, e.detail.view());
                sl.out.verdict = ArcVerdict::failed;
                break;
            case ArcEntryKind::fee_too_low:
                decide(i, Action::fee_wait, e.status, e.detail.view());
                break;
            case ArcEntryKind::retry:
                decide(i, Action::retry_backoff, e.status, e.detail.view());
                break;
        }
    }

    void all(const Conn& cn, std::uint32_t n, Action a, std::uint16_t status,
             std::string_view why) noexcept {
        for (std::uint32_t p = 0; p < n; ++p)
            if (slots[cn.jobs[p]].action == Action::none) decide(cn.jobs[p], a, status, why);
    }

    void auth_failure(const Conn& cn, std::uint32_t n, long http) noexcept {
        add(c.auth_errors);
        Line l;
        l << "ARC refused the API key (HTTP " << static_cast<std::uint64_t>(http)
          << "): check ARC_API_KEY; the tx may still be on the network, look it up by txid";
        for (std::uint32_t p = 0; p < n; ++p) {
            const std::uint32_t i = cn.jobs[p];
            decide(i, Action::done, static_cast<std::uint16_t>(http), l.view());
            slots[i].out.verdict = ArcVerdict::unresolved;
        }
    }

    void transport_reason(Line& l, const Conn& cn, CURLcode rc) noexcept {
        if (rc == CURLE_OPERATION_TIMEDOUT) {
            add(c.timeouts);
            l << "no answer within " << static_cast<std::uint64_t>(s.request_timeout.count())
              << " ms";
        } else {
            add(c.transport_errors);
            l << "transport error: "
              << (cn.error[0] != '\0' ? std::string_view(cn.error) : curl_easy_strerror(rc));
        }
    }

    void on_post(Conn& cn, CURLcode rc, long http) noexcept {
        const std::uint32_t n = batches[cn.batch].count;
        for (std::uint32_t p = 0; p < n; ++p)
            slots[cn.jobs[p]].action = Action::none;
        bool split = false;
        Line l;
        dom::element root;
        if (rc != CURLE_OK) {
            transport_reason(l, cn, rc);
            all(cn, n, Action::retry_backoff, 0, l.view());
        } else if (http >= 200 && http < 300) {
            dom::array arr;
            if (!parse(cn, root) || root.get_array().get(arr) != simdjson::SUCCESS) {
                add(c.transport_errors);
                l << "unreadable answer to POST /v1/txs";
                all(cn, n, Action::retry_backoff, 200, l.view());
            } else {
                refusals_in_a_row = 0;
                build_table(cn, n);
                for (dom::element e : arr) {
                    dom::object obj;
                    if (e.get_object().get(obj) != simdjson::SUCCESS) continue;
                    const std::uint32_t pos = find(cn, arc_string(obj, "txid"));
                    if (pos != k_none) classify_entry(cn.jobs[pos], obj);
                }
                for (std::uint32_t p = 0; p < n; ++p) {
                    if (slots[cn.jobs[p]].action != Action::none) continue;
                    add(c.missing_entries);
                    decide(cn.jobs[p], Action::retry_backoff, 200,
                           "no entry for this txid in ARC's answer");
                }
            }
        } else if (http == 401 || http == 403) {
            auth_failure(cn, n, http);
        } else if (http >= 500 || http == 429 || http == 408 || http == 409 || http < 400) {
            // 409 is ARC's "not yet classified" (its store was down, a
            // deadline passed): the tx may be stored. No verdict.
            if (http >= 500 || http == 429) add(c.http_5xx);
            if (http == 409) add(c.http_4xx);
            dom::object obj;
            if (parse(cn, root) && root.get_object().get(obj) == simdjson::SUCCESS)
                arc_error_detail(l, http, obj);
            else
                l << "ARC answered HTTP " << static_cast<std::uint64_t>(http);
            all(cn, n, Action::retry_backoff, static_cast<std::uint16_t>(http), l.view());
        } else {
            add(c.http_4xx);
            dom::object obj;
            std::uint32_t pos = k_none;
            std::int64_t status = http;
            if (parse(cn, root) && root.get_object().get(obj) == simdjson::SUCCESS) {
                build_table(cn, n);
                pos = find(cn, arc_string(obj, "txid"));
                if (arc_int(obj, "status") >= 400) status = arc_int(obj, "status");
                arc_error_detail(l, status, obj);
            } else {
                l << "ARC answered HTTP " << static_cast<std::uint64_t>(http);
            }
            const auto code = static_cast<std::uint16_t>(status);
            // A whole-request refusal judges this request, not whether ARC
            // holds the tx: if an earlier attempt went unanswered (timeout,
            // dropped connection) it may have landed, so the job is neither
            // failed nor re-signed (invariants 2-3): unresolved, looked up
            // by txid before anything else happens to it.
            auto refuse = [&](std::uint32_t i) {
                Slot& sl = slots[i];
                if (sl.failures > 0) {
                    decide(i, Action::done, code, l.view());
                    sl.out.verdict = ArcVerdict::unresolved;
                } else if (status == 465) {
                    decide(i, Action::fee_wait, code, l.view());
                } else {
                    decide(i, Action::done, code, l.view());
                    sl.out.verdict = ArcVerdict::failed;
                }
            };
            if (pos != k_none) {
                // ARC names the culprit; the others were not judged: send
                // them again at once, without counting it against them.
                refuse(cn.jobs[pos]);
                all(cn, n, Action::retry_now, code, "re-sent after another tx's error");
            } else if (status == 465) {
                for (std::uint32_t p = 0; p < n; ++p)
                    refuse(cn.jobs[p]);
            } else if (n > 1 && !fatal.load(std::memory_order_acquire)) {
                // Which tx is at fault is unknown: ask again one tx per request.
                split = true;
                add(c.splits);
                all(cn, n, Action::retry_now, code, l.view());
            } else {
                // A refusal naming no transaction judged the request (a
                // header, the body as a whole), not the tx: no verdict.
                note_request_refusal(l.view());
                all(cn, n, Action::retry_backoff, code, l.view());
            }
        }
        settle(cn, n, split);
    }

    // Applies the decided actions of the request on `cn`, in body order.
    void settle(Conn& cn, std::uint32_t n, bool split) noexcept {
        const TimePoint now = Clock::now();
        const std::uint32_t old = cn.batch;
        const Kind kind = batches[old].kind;
        free_batches.push_back(old);
        std::uint32_t later = k_none, again = k_none;
        std::uint32_t max_failures = 0;
        for (std::uint32_t p = 0; p < n; ++p) {
            const std::uint32_t i = cn.jobs[p];
            Slot& sl = slots[i];
            switch (sl.action) {
                case Action::none:
                case Action::done:
                    emit(i, sl.out.verdict);
                    break;
                case Action::fee_wait:
                    fee_wait.push_back(i);
                    break;
                case Action::retry_backoff:
                    if (++sl.failures >= static_cast<std::uint32_t>(s.max_attempts) ||
                        fatal.load(std::memory_order_acquire)) {
                        emit_unresolved(i);
                        break;
                    }
                    add(c.retries);
                    if (later == k_none) later = new_batch(kind);
                    batch_append(later, i);
                    max_failures = std::max(max_failures, sl.failures);
                    break;
                case Action::retry_now:
                    add(c.retries);
                    if (split) {
                        const std::uint32_t b = new_batch(kind);
                        batch_append(b, i);
                        ready.push(b);
                    } else {
                        if (again == k_none) again = new_batch(kind);
                        batch_append(again, i);
                    }
                    break;
            }
            sl.action = Action::none;
        }
        if (later != k_none) {
            batches[later].not_before = now + backoff(max_failures);
            delayed.push_back(later);
        }
        if (again != k_none) ready.push(again);
    }

    void on_status(Conn& cn, CURLcode rc, long http) noexcept {
        const std::uint32_t i = cn.jobs[0];
        Slot& sl = slots[i];
        sl.action = Action::none;
        Line l;
        dom::element root;
        dom::object obj;
        if (rc != CURLE_OK) {
            transport_reason(l, cn, rc);
            decide(i, Action::retry_backoff, 0, l.view());
        } else if (http == 404) {
            sl.action = Action::none;
        } else if (http == 401 || http == 403) {
            auth_failure(cn, 1, http);
        } else if (http == 200 && parse(cn, root) &&
                   root.get_object().get(obj) == simdjson::SUCCESS &&
                   !arc_string(obj, "txStatus").empty()) {
            classify_entry(i, obj);
            sl.out.arc_status = 200;
            // Known but not held by the network (orphan, unknown): broadcast.
            if (sl.action == Action::retry_backoff) sl.action = Action::none;
        } else {
            if (http >= 500) add(c.http_5xx);
            l << "GET /v1/tx answered HTTP " << static_cast<std::uint64_t>(http);
            decide(i, Action::retry_backoff, static_cast<std::uint16_t>(http), l.view());
        }
        if (sl.action == Action::none) {
            // ARC does not hold it: broadcast the stored bytes.
            sl.out.tx_status = {};
            sl.queued_at = Clock::now();
            free_batches.push_back(cn.batch);
            fresh.push(i);
            return;
        }
        settle(cn, 1, false);
    }

    void finish_fee_wait() noexcept {
        const chain::FeeRate r = unpack_rate(rate.load(std::memory_order_relaxed));
        for (std::uint32_t i : fee_in_read) {
            Slot& sl = slots[i];
            Line l;
            l << sl.out.detail.view();
            if (policy_ok)
                l << "; fee rate now " << r.satoshis << "/" << r.bytes;
            else
                l << "; GET /v1/policy failed, fee rate still " << r.satoshis << "/" << r.bytes;
            assign_cut(sl.out.detail, l.view());
            sl.out.arc_status = 465;
            emit(i, ArcVerdict::fee_too_low);
        }
        fee_in_read.clear();
    }

    void on_policy(Conn& cn, CURLcode rc, long http, TimePoint now) noexcept {
        policy_busy = false;
        policy_ok = rc == CURLE_OK && http == 200 && apply_policy(cn.answer);
        if (!policy_ok) {
            add(c.policy_failures);
            if (http == 401 || http == 403) add(c.auth_errors);
        }
        policy_due =
            now + (policy_ok ? s.policy_refresh : std::min(s.policy_refresh, s.backoff_max));
        finish_fee_wait();
    }

    void harvest() noexcept {
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
            if (m->msg != CURLMSG_DONE) continue;
            CURL* e = m->easy_handle;
            const CURLcode rc = m->data.result;
            Conn* cn = nullptr;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, &cn);
            long http = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
            curl_multi_remove_handle(multi, e);
            const TimePoint now = Clock::now();
            record_latency(cn->started, now);
            cn->busy = false;
            if (cn == &policy_conn) {
                on_policy(*cn, rc, http, now);
            } else if (batches[cn->batch].kind == Kind::post) {
                on_post(*cn, rc, http);
            } else {
                on_status(*cn, rc, http);
            }
        }
    }

    void run() noexcept {
        policy_due = Clock::now() + s.policy_refresh;
        while (!stopping.load(std::memory_order_acquire)) {
            TimePoint now = Clock::now();
            wake_pending.store(false, std::memory_order_seq_cst);
            drain_submissions(now);
            promote_due(now);
            dispatch(now);
            int running = 0;
            curl_multi_perform(multi, &running);
            harvest();
            if (pushed) {
                pushed = false;
                if (wake != nullptr) wake->wake();
            }
            now = Clock::now();
            promote_due(now);
            drain_submissions(now);
            dispatch(now);
            if (!ready.empty() && free_conn() != nullptr) continue;
            const auto wait =
                std::chrono::ceil<std::chrono::milliseconds>(next_deadline(now) - now);
            const int ms = static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, 1000));
            curl_multi_poll(multi, nullptr, 0, ms, nullptr);
        }
        for (Conn& cn : conns)
            if (cn.busy) curl_multi_remove_handle(multi, cn.easy);
        if (policy_conn.busy) curl_multi_remove_handle(multi, policy_conn.easy);
    }
};

namespace {

std::string wait_for_names() {
    std::string out;
    for (std::string_view n : k_arc_wait_for_statuses)
        out.append(out.empty() ? "" : ", ").append(n);
    return out;
}

void validate(ArcSettings& s) {
    const auto fail = [](const std::string& what) {
        throw std::invalid_argument("ARC client: " + what);
    };
    while (!s.url.empty() && s.url.back() == '/')
        s.url.pop_back();
    if (s.url.empty()) fail("no ARC URL: set ARC_URL (e.g. http://127.0.0.1:9090)");
    if (s.url.rfind("http://", 0) != 0 && s.url.rfind("https://", 0) != 0)
        fail("ARC URL '" + s.url + "' must start with http:// or https://: check ARC_URL");
    if (has_line_break(s.url)) fail("ARC URL contains a line break: check ARC_URL");
    if (has_line_break(s.api_key)) fail("the API key contains a line break: check ARC_API_KEY");
    if (has_line_break(s.wait_for) || has_line_break(s.callback_url) ||
        has_line_break(s.callback_token))
        fail("X-WaitFor / callback URL / callback token contain a line break: fix the setting");
    if (!s.wait_for.empty() && !arc_wait_for_status(s.wait_for))
        fail("X-WaitFor '" + s.wait_for + "' is not a status ARC waits for: use one of " +
             wait_for_names() + " (check --arc-wait-for)");
    if (s.max_timeout_s < 1 || s.max_timeout_s > 30)
        fail("max timeout must be 1..30 seconds (ARC's range), got " +
             std::to_string(s.max_timeout_s));
    if (s.batch_max == 0 || s.batch_max > 100000)
        fail("batch size must be 1..100000, got " + std::to_string(s.batch_max));
    if (s.max_in_flight == 0 || s.max_in_flight > 256)
        fail("requests in flight must be 1..256, got " + std::to_string(s.max_in_flight));
    if (s.capacity == 0 || s.capacity > (1u << 24))
        fail("capacity must be 1..16777216 jobs, got " + std::to_string(s.capacity));
    if (s.linger.count() < 0) fail("linger must not be negative");
    if (s.request_timeout.count() <= 0) fail("request timeout must be positive");
    if (s.max_attempts < 1) fail("max attempts must be at least 1");
    if (s.backoff_base.count() < 0 || s.backoff_max < s.backoff_base)
        fail("backoff must satisfy 0 <= base <= max");
    if (s.fee_floor.bytes == 0 || s.fee_floor.satoshis >= (1u << 31) ||
        s.fee_floor.bytes >= (1u << 31))
        fail("fee floor " + s.fee_floor.to_string() + " is invalid: use SATS/BYTES, bytes > 0");
    if (s.policy_refresh.count() <= 0) fail("policy refresh interval must be positive");
}

ArcSettings validated(ArcSettings s) {
    validate(s);
    return s;
}

}  // namespace

ArcClient::ArcClient(ArcSettings settings)
    : m_impl(std::make_unique<Impl>(validated(std::move(settings)))) {}

ArcClient::~ArcClient() {
    stop();
}

std::string ArcClient::start(flow::RunContext* wake) {
    std::lock_guard lock(m_impl->lifecycle);
    if (m_impl->started) return "ARC client: start() called twice";
    if (m_impl->stopping.load()) return "ARC client: start() after stop()";
    std::string err = m_impl->read_policy_blocking();
    if (!err.empty()) return err;
    m_impl->wake = wake;
    m_impl->started = true;
    m_impl->thread = std::thread([impl = m_impl.get()] { impl->run(); });
    return {};
}

bool ArcClient::try_submit(const model::Job& job) noexcept {
    return m_impl->try_submit(job);
}
bool ArcClient::try_take(ArcOutcome& out) noexcept {
    return m_impl->try_take(out);
}
std::size_t ArcClient::outstanding() const noexcept {
    return m_impl->outstanding.load(std::memory_order_relaxed);
}
chain::FeeRate ArcClient::fee_rate() const noexcept {
    return unpack_rate(m_impl->rate.load(std::memory_order_acquire));
}
const ArcSettings& ArcClient::settings() const noexcept {
    return m_impl->s;
}
std::string ArcClient::fatal_error() const {
    if (!m_impl->fatal.load(std::memory_order_acquire)) return {};
    std::lock_guard lock(m_impl->fatal_mu);
    return m_impl->fatal_text;
}

void ArcClient::stop() noexcept {
    if (!m_impl) return;
    std::lock_guard lock(m_impl->lifecycle);
    m_impl->stopping.store(true, std::memory_order_release);
    curl_multi_wakeup(m_impl->multi);
    if (m_impl->thread.joinable()) m_impl->thread.join();
}

ArcStats ArcClient::stats() const noexcept {
    const auto& c = m_impl->c;
    const auto ld = [](const std::atomic<std::uint64_t>& a) {
        return a.load(std::memory_order_relaxed);
    };
    ArcStats st;
    st.requests = ld(c.requests);
    st.txs_posted = ld(c.txs_posted);
    st.retries = ld(c.retries);
    st.timeouts = ld(c.timeouts);
    st.transport_errors = ld(c.transport_errors);
    st.http_5xx = ld(c.http_5xx);
    st.http_4xx = ld(c.http_4xx);
    st.auth_errors = ld(c.auth_errors);
    st.missing_entries = ld(c.missing_entries);
    st.splits = ld(c.splits);
    st.request_refusals = ld(c.request_refusals);
    st.sent = ld(c.sent);
    st.failed = ld(c.failed);
    st.fee_too_low = ld(c.fee_too_low);
    st.unresolved = ld(c.unresolved);
    st.policy_reads = ld(c.policy_reads);
    st.policy_failures = ld(c.policy_failures);
    st.status_checks = ld(c.status_checks);
    std::array<std::uint64_t, k_latency_buckets> h{};
    std::uint64_t total = 0;
    for (std::size_t b = 0; b < k_latency_buckets; ++b)
        total += h[b] = ld(c.latency[b]);
    if (total > 0) {
        const auto pct = [&](std::uint64_t num) {
            const std::uint64_t rank = (total * num + 99) / 100;
            std::uint64_t seen = 0;
            for (std::size_t b = 0; b < k_latency_buckets; ++b) {
                seen += h[b];
                if (seen >= rank) return std::uint64_t{1} << b;  // bucket b holds [2^(b-1), 2^b)
            }
            return std::uint64_t{1} << (k_latency_buckets - 1);
        };
        st.latency_p50_us = pct(50);
        st.latency_p99_us = pct(99);
    }
    return st;
}

}  // namespace raregen::send
