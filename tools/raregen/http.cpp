#include "tools/raregen/http.h"

#include <cstdlib>

#include "stages/send/arc_answer.h"

namespace raregen::cli {

HttpResponse arc_call(const std::string& url, const std::string& api_key,
                      const std::string& content_type, const std::string& body, long timeout_ms) {
    network::HttpRequest rq;
    rq.url = url;
    rq.timeout_ms = timeout_ms;
    if (!content_type.empty()) {
        rq.method = "POST";
        rq.body = body;
        rq.headers.push_back("Content-Type: " + content_type);
    }
    if (!api_key.empty()) rq.headers.push_back("Authorization: Bearer " + api_key);
    return network::http_request(rq);
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

std::string arc_api_key_from_env() {
    const char* k = std::getenv("ARC_API_KEY");
    return k != nullptr ? std::string(k) : std::string();
}

}  // namespace raregen::cli
