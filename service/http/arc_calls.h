#pragma once
// The command line's one-off calls to ARC or the local network (split
// broadcasts, funding, admin queries), over the blocking HTTP
// client. The engine's own traffic goes through stages/send/arc_client.h.

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include "engine/chain/fees.h"
#include "service/http/http_client.h"

namespace raregen::http {

// GET (body empty) or POST (content_type set) to `url`, with
// `Authorization: Bearer <api_key>` when a key is given (never logged).
HttpResponse arc_call(const std::string& url, const std::string& api_key,
                      const std::string& content_type = {}, const std::string& body = {},
                      long timeout_ms = 30'000);
// A complete answer with a 2xx status.
inline bool http_ok(const HttpResponse& r) {
    return r.completed && r.status >= 200 && r.status < 300;
}
// What went wrong, for a message: the transport error, or the status and
// the start of the body.
std::string http_problem(const HttpResponse& r);

// The fee rate ARC asks for (GET {url}/v1/policy, miningFee), if it answers.
std::optional<chain::FeeRate> arc_policy_fee(const std::string& url, const std::string& api_key);

// One transaction to ARC until it has a verdict (the split; not the
// engine's path, which batches): POST {url}/v1/tx with `ef`, the answer read
// as the engine reads it. No verdict (5xx, 408, 409 "not yet classified",
// 429, an orphan or UNKNOWN status, a timeout, a dropped connection): the
// transaction may be stored, so before sending the same bytes again, GET
// {url}/v1/tx/{txid} asks whether ARC holds it. Retried with exponential
// backoff and full jitter, `attempts` POSTs at most. A refusal after an
// attempt without a verdict is `unknown` (the first may have landed).
struct Broadcast {
    enum class Verdict { accepted, refused, unknown } verdict = Verdict::unknown;
    std::string tx_status;  // ARC's txStatus when accepted
    std::string detail;     // what ARC answered last (refused, unknown)
    int posts = 0;          // POST attempts made
    int lookups = 0;        // GET /v1/tx lookups made
};
struct BroadcastOptions {
    int attempts = 8;
    long timeout_ms = 30'000;  // per request
    // The bytes may have been sent before (a split recorded by a process
    // that crashed): GET /v1/tx/{txid} first, and a transaction ARC holds is
    // accepted without a POST; a refusal is then `unknown` (it may answer a
    // second copy of a transaction that landed).
    bool look_first = false;
    // Set: no further attempt once it has been true for `abort_grace`
    // (checked between requests and during the backoff; a graceful stop
    // lets a transaction in flight get its verdict if it comes soon); the
    // answer is then `unknown` unless known.
    const std::atomic<bool>* abort = nullptr;
    std::chrono::milliseconds abort_grace{0};
};
Broadcast broadcast_until_known(const std::string& url, const std::string& api_key,
                                const std::string& txid, const std::string& ef,
                                const BroadcastOptions& options = {});

// ARC_API_KEY from the environment (empty if unset).
std::string arc_api_key_from_env();

}  // namespace raregen::http
