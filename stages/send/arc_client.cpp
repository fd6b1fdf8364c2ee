#include "stages/send/arc_client_impl.h"

#include <stdexcept>

namespace raregen::send {

namespace {

std::once_flag g_curl_init;

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

ArcClient::Impl::Impl(ArcSettings settings)
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
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(s.max_in_flight + 1));
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

ArcClient::Impl::~Impl() {
    for (Conn& cn : conns)
        if (cn.easy != nullptr) curl_easy_cleanup(cn.easy);
    if (policy_conn.easy != nullptr) curl_easy_cleanup(policy_conn.easy);
    if (multi != nullptr) curl_multi_cleanup(multi);
    curl_slist_free_all(post_headers);
    curl_slist_free_all(get_headers);
}

void ArcClient::Impl::init_conn(Conn& cn) {
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

auto ArcClient::Impl::free_conn() noexcept -> Conn* {
    for (Conn& cn : conns)
        if (!cn.busy) return &cn;
    return nullptr;
}

void ArcClient::Impl::launch(Conn& cn, std::uint32_t b, TimePoint now) noexcept {
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

void ArcClient::Impl::harvest() noexcept {
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
        if (rc == CURLE_OK && http > 0 && http < 500 && http != 429)
            c.unanswered_in_a_row.store(0, std::memory_order_relaxed);
        else
            add(c.unanswered_in_a_row);
        if (cn == &policy_conn) {
            on_policy(*cn, rc, http, now);
        } else if (batches[cn->batch].kind == Kind::post) {
            on_post(*cn, rc, http);
        } else {
            on_status(*cn, rc, http);
        }
    }
}

void ArcClient::Impl::run() noexcept {
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
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_deadline(now) - now);
        const int ms = static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, 1000));
        curl_multi_poll(multi, nullptr, 0, ms, nullptr);
    }
    for (Conn& cn : conns)
        if (cn.busy) curl_multi_remove_handle(multi, cn.easy);
    if (policy_conn.busy) curl_multi_remove_handle(multi, policy_conn.easy);
}

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
    st.unanswered_in_a_row = ld(c.unanswered_in_a_row);
    if (const std::int64_t at = c.policy_read_at.load(std::memory_order_relaxed); at != 0)
        st.policy_age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               Clock::now() - TimePoint(Clock::duration(at)))
                               .count();
    st.latency_p50_us = static_cast<std::uint64_t>(c.latency.quantile(0.50).count());
    st.latency_p99_us = static_cast<std::uint64_t>(c.latency.quantile(0.99).count());
    return st;
}

}  // namespace raregen::send
