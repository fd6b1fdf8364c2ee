#include "stages/send/arc_client_impl.h"

namespace raregen::send {

bool ArcClient::Impl::parse_text(std::string& text, dom::element& root) noexcept {
    const std::size_t n = text.size();
    text.resize(n + simdjson::SIMDJSON_PADDING, '\0');
    return parse_arc_json(parser, std::string_view(text.data(), n), root);
}

std::uint32_t ArcClient::Impl::find(const Conn& cn, std::string_view display) const noexcept {
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

void ArcClient::Impl::build_table(Conn& cn, std::uint32_t n) noexcept {
    std::fill(cn.table.begin(), cn.table.end(), 0u);
    const std::size_t mask = cn.table.size() - 1;
    for (std::uint32_t pos = 0; pos < n; ++pos) {
        std::size_t h = mix(slots[cn.jobs[pos]].out.job.txid) & mask;
        while (cn.table[h] != 0)
            h = (h + 1) & mask;
        cn.table[h] = pos + 1;
    }
}

void ArcClient::Impl::decide(std::uint32_t i, Action a, std::uint16_t status,
                             std::string_view why) noexcept {
    Slot& sl = slots[i];
    sl.action = a;
    sl.out.arc_status = status;
    if (a == Action::retry_backoff || a == Action::retry_now) set_reason(sl, why);
    if (a == Action::done || a == Action::fee_wait) assign_cut(sl.out.detail, why);
}

void ArcClient::Impl::classify_entry(std::uint32_t i, dom::object obj) noexcept {
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

void ArcClient::Impl::auth_failure(const Conn& cn, std::uint32_t n, long http) noexcept {
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

void ArcClient::Impl::transport_reason(Line& l, const Conn& cn, CURLcode rc) noexcept {
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        add(c.timeouts);
        l << "no answer within " << static_cast<std::uint64_t>(s.request_timeout.count()) << " ms";
    } else {
        add(c.transport_errors);
        l << "transport error: "
          << (cn.error[0] != '\0' ? std::string_view(cn.error) : curl_easy_strerror(rc));
    }
}

void ArcClient::Impl::on_post(Conn& cn, CURLcode rc, long http) noexcept {
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

void ArcClient::Impl::settle(Conn& cn, std::uint32_t n, bool split) noexcept {
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

void ArcClient::Impl::on_status(Conn& cn, CURLcode rc, long http) noexcept {
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
    } else if (http == 200 && parse(cn, root) && root.get_object().get(obj) == simdjson::SUCCESS &&
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

}  // namespace raregen::send
