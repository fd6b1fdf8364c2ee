#pragma once
// A blocking HTTP request for the command line's one-off calls to ARC or the
// local network (split broadcasts, funding, admin queries): libcurl easy,
// one request at a time. The engine's own traffic goes through
// stages/send/arc_client.h instead.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chain/fees.h"

namespace raregen::cli {

struct HttpResponse {
    long status = 0;      // 0: no HTTP answer (see error)
    std::string body;
    std::string error;    // transport error (connection refused, timeout...)
    bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

struct HttpRequest {
    std::string method = "GET";  // GET or POST
    std::string url;
    std::string content_type;    // for POST
    std::string body;
    std::string bearer;          // Authorization: Bearer <bearer> when not empty (never logged)
    std::vector<std::string> headers;  // extra "Name: value" lines
    std::chrono::milliseconds timeout{30000};
};

HttpResponse http_request(const HttpRequest& request);

// The fee rate ARC asks for (GET {url}/v1/policy, miningFee), if it answers.
std::optional<chain::FeeRate> arc_policy_fee(const std::string& url, const std::string& api_key);

// ARC_API_KEY from the environment (empty if unset).
std::string arc_api_key_from_env();

}  // namespace raregen::cli
