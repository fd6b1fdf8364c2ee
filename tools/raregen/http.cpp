#include "tools/raregen/http.h"

#include <curl/curl.h>

#include <cstdlib>
#include <memory>

#include <nlohmann/json.hpp>

namespace raregen::cli {

namespace {

std::size_t append_body(char* data, std::size_t size, std::size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
}

}  // namespace

HttpResponse http_request(const HttpRequest& request) {
    HttpResponse response;
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) {
        response.error = "libcurl could not start";
        return response;
    }
    curl_slist* headers = nullptr;
    std::string auth;
    if (!request.bearer.empty()) {
        auth = "Authorization: Bearer " + request.bearer;
        headers = curl_slist_append(headers, auth.c_str());
    }
    std::string type;
    if (!request.content_type.empty()) {
        type = "Content-Type: " + request.content_type;
        headers = curl_slist_append(headers, type.c_str());
    }
    for (const std::string& h : request.headers)
        headers = curl_slist_append(headers, h.c_str());
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
    if (headers != nullptr) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (request.method == "POST") {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
    }
    const CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (auth.size() > 0) std::fill(auth.begin(), auth.end(), '\0');
    if (rc != CURLE_OK) {
        response.error = std::string(curl_easy_strerror(rc)) + " (" + request.method + " " +
                         request.url + ")";
        return response;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

std::optional<chain::FeeRate> arc_policy_fee(const std::string& url, const std::string& api_key) {
    HttpRequest rq;
    rq.url = url + "/v1/policy";
    rq.bearer = api_key;
    rq.timeout = std::chrono::milliseconds(10000);
    const HttpResponse r = http_request(rq);
    if (!r.ok()) return std::nullopt;
    try {
        const auto j = nlohmann::json::parse(r.body);
        const auto& fee = j.at("policy").at("miningFee");
        chain::FeeRate rate{fee.at("satoshis").get<std::uint64_t>(),
                            fee.at("bytes").get<std::uint64_t>()};
        if (rate.bytes == 0) return std::nullopt;
        return rate;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string arc_api_key_from_env() {
    const char* k = std::getenv("ARC_API_KEY");
    return k != nullptr ? std::string(k) : std::string();
}

}  // namespace raregen::cli
