#include "stages/send/arc_client_impl.h"

namespace raregen::send {

void ArcClient::Impl::note_request_refusal(std::string_view detail) {
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

bool ArcClient::Impl::apply_policy(std::string& answer) noexcept {
    dom::element root;
    if (!parse_text(answer, root)) return false;
    chain::FeeRate live;
    if (!arc_policy_fee(root, live)) return false;
    const chain::FeeRate eff = live.at_least(s.fee_floor) ? live : s.fee_floor;
    rate.store(pack_rate(eff), std::memory_order_release);
    add(c.policy_reads);
    c.policy_read_at.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    return true;
}

std::string ArcClient::Impl::read_policy_blocking() {
    std::string last;
    for (int attempt = 0; attempt < k_start_policy_attempts; ++attempt) {
        if (attempt > 0) std::this_thread::sleep_for(backoff(static_cast<std::uint32_t>(attempt)));
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

std::chrono::milliseconds ArcClient::Impl::backoff(std::uint32_t failures) noexcept {
    const auto base = static_cast<std::uint64_t>(s.backoff_base.count());
    const auto cap = static_cast<std::uint64_t>(s.backoff_max.count());
    const std::uint32_t shift = std::min<std::uint32_t>(failures, 30);
    const std::uint64_t ceiling = std::min(cap, base << shift);
    if (ceiling == 0) return std::chrono::milliseconds{0};
    std::uniform_int_distribution<std::uint64_t> d(0, ceiling);
    return std::chrono::milliseconds{static_cast<std::int64_t>(d(rng))};
}

auto ArcClient::Impl::prepare_policy_get() noexcept -> Conn& {
    Conn& cn = policy_conn;
    cn.answer.clear();
    cn.error[0] = '\0';
    curl_easy_setopt(cn.easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(cn.easy, CURLOPT_URL, policy_url.c_str());
    curl_easy_setopt(cn.easy, CURLOPT_HTTPHEADER, get_headers);
    return cn;
}

void ArcClient::Impl::launch_policy(TimePoint now) noexcept {
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

void ArcClient::Impl::finish_fee_wait() noexcept {
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

void ArcClient::Impl::on_policy(Conn& cn, CURLcode rc, long http, TimePoint now) noexcept {
    policy_busy = false;
    policy_ok = rc == CURLE_OK && http == 200 && apply_policy(cn.answer);
    if (!policy_ok) {
        add(c.policy_failures);
        if (http == 401 || http == 403) add(c.auth_errors);
    }
    policy_due = now + (policy_ok ? s.policy_refresh : std::min(s.policy_refresh, s.backoff_max));
    finish_fee_wait();
}

}  // namespace raregen::send
