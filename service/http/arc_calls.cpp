#include "service/http/arc_calls.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <random>
#include <thread>

#include <simdjson.h>

#include "stages/send/arc_answer.h"

namespace raregen::http {

HttpResponse arc_call(const std::string& url, const std::string& api_key,
                      const std::string& content_type, const std::string& body, long timeout_ms) {
    http::HttpRequest rq;
    rq.url = url;
    rq.timeout_ms = timeout_ms;
    if (!content_type.empty()) {
        rq.method = "POST";
        rq.body = body;
        rq.headers.push_back("Content-Type: " + content_type);
    }
    if (!api_key.empty()) rq.headers.push_back("Authorization: Bearer " + api_key);
    return http::http_request(rq);
}

std::string http_problem(const HttpResponse& r) {
    if (!r.completed) return r.error;
    return "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 400);
}

std::optional<chain::FeeRate> arc_policy_fee(const std::string& url, const std::string& api_key) {
    const HttpResponse r = arc_call(url + "/v1/policy", api_key, {}, {}, 10'000);
    if (!http_ok(r)) return std::nullopt;
    // The engine's own reading of the answer (and its bounds).
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    chain::FeeRate rate;
    if (parser.parse(r.body).get(root) != simdjson::SUCCESS || !send::arc_policy_fee(root, rate))
        return std::nullopt;
    return rate;
}

Broadcast broadcast_until_known(const std::string& url, const std::string& api_key,
                                const std::string& txid, const std::string& ef,
                                const BroadcastOptions& options) {
    Broadcast out;
    const long timeout_ms = options.timeout_ms;
    std::optional<std::chrono::steady_clock::time_point> abort_seen;
    auto stopping = [&] {
        if (options.abort == nullptr || !options.abort->load(std::memory_order_acquire))
            return false;
        const auto now = std::chrono::steady_clock::now();
        if (!abort_seen) abort_seen = now;
        return now - *abort_seen >= options.abort_grace;
    };
    std::mt19937_64 rng(std::random_device{}());
    std::chrono::milliseconds cap(200);
    simdjson::dom::parser parser;
    // The answer read as the engine reads it (send::classify_arc_entry):
    // sent, refused (REJECTED, DOUBLE_SPEND_ATTEMPTED, a 4xx for the tx), or
    // no verdict (orphan, UNKNOWN, 5xx, 408, 409, 429, nothing readable).
    auto classify = [&](const HttpResponse& r, std::string& tx_status) {
        tx_status.clear();
        if (!r.completed || r.status >= 500 || r.status == 408 || r.status == 409 ||
            r.status == 429)
            return send::ArcEntryKind::retry;
        simdjson::dom::element root;
        simdjson::dom::object obj;
        if (parser.parse(r.body).get(root) != simdjson::SUCCESS ||
            root.get_object().get(obj) != simdjson::SUCCESS)
            return send::ArcEntryKind::retry;
        const send::ArcEntry e = send::classify_arc_entry(obj);
        tx_status = std::string(e.tx_status);
        return e.kind;
    };
    // look_first: the bytes may be on the network already, so a refusal
    // (which may answer a second copy) is no verdict either.
    bool maybe_stored = options.look_first;
    std::string status;
    // After a POST without a verdict: does ARC hold the transaction already?
    auto held = [&] {
        ++out.lookups;
        const HttpResponse look = arc_call(url + "/v1/tx/" + txid, api_key, {}, {}, timeout_ms);
        if (http_ok(look) && classify(look, status) == send::ArcEntryKind::sent) {
            out.verdict = Broadcast::Verdict::accepted;
            out.tx_status = status;
            return true;
        }
        return false;
    };
    while (out.posts < options.attempts) {
        if (stopping()) {
            out.detail = "stopped before ARC gave a verdict" +
                         (out.detail.empty() ? std::string() : " (last: " + out.detail + ")");
            break;
        }
        if (maybe_stored && held()) return out;
        ++out.posts;
        const HttpResponse r =
            arc_call(url + "/v1/tx", api_key, "application/octet-stream", ef, timeout_ms);
        const send::ArcEntryKind kind = classify(r, status);
        if (kind == send::ArcEntryKind::sent) {
            out.verdict = Broadcast::Verdict::accepted;
            out.tx_status = status;
            return out;
        }
        out.detail = http_problem(r);
        if (kind != send::ArcEntryKind::retry) {
            // A refusal. After an attempt without a verdict it judges this
            // request, not whether the first one landed: unknown, as the
            // engine treats it. Otherwise the same bytes cannot change it.
            if (maybe_stored && held()) return out;
            out.verdict = maybe_stored ? Broadcast::Verdict::unknown : Broadcast::Verdict::refused;
            return out;
        }
        maybe_stored = true;
        // Full jitter: a random wait up to a cap that doubles, at most 5 s.
        std::uniform_int_distribution<long> wait(0, cap.count());
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait(rng));
        while (!stopping() && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        cap = std::min(cap * 2, std::chrono::milliseconds(5000));
    }
    // Out of attempts: one last look before calling it unknown.
    if (maybe_stored && held()) return out;
    out.verdict = Broadcast::Verdict::unknown;
    return out;
}

std::string arc_api_key_from_env() {
    const char* k = std::getenv("ARC_API_KEY");
    return k != nullptr ? std::string(k) : std::string();
}

}  // namespace raregen::http
