#pragma once
// A minimal blocking HTTP client over libcurl's easy interface, for the few
// places that send requests outside any hot path: callback delivery, the
// `raregen network fund` command and the tests.
//
// Thread contract: http_request() may be called from any number of threads
// at once; each call uses its own easy handle (no connection reuse) and
// blocks for at most `timeout_ms`. libcurl's global state is initialised
// once per process on first use (call_once), so no caller has to.

#include <string>
#include <vector>

namespace raregen::http {

struct HttpRequest {
    std::string method = "GET";  // GET or POST (any verb libcurl accepts)
    std::string url;
    std::string body;                  // sent as-is for POST
    std::vector<std::string> headers;  // "Name: value"
    long timeout_ms = 5000;            // whole transfer, connect included
};

struct HttpResponse {
    bool completed = false;  // false: no complete response (refused, reset, timed out, cut)
    std::string error;       // libcurl's message when !completed
    long status = 0;         // HTTP status when completed
    std::string body;
};

HttpResponse http_request(const HttpRequest& request);

}  // namespace raregen::http
