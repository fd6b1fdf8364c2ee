#pragma once
// A load client for RareGen's HTTP API (`raregen serve`, or the old
// rare-gen-server): posts signed intents from many keep-alive connections at
// once, each intent once (POST /v1/publish, the way the old service's clients
// send them), or in groups (POST /v1/publish/batch), and retries what got no
// verdict: a 503 (after its Retry-After), another 5xx, or no answer at all
// (a dropped connection, a timeout). Retrying is safe against the API's
// contract: a record already accepted is answered with its existing job
// (200), never made a second job.
//
// `raregen load` runs it from the command line and `raregen demo` drives
// `raregen serve` with it. Not part of the engine: the CLI and the tests
// link it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace raregen::load {

struct LoadOptions {
    std::string url;               // http://HOST:PORT (no path)
    std::size_t connections = 64;  // concurrent keep-alive connections (one thread each)
    std::size_t batch = 1;         // 1: POST /v1/publish per intent; more: /v1/publish/batch
    std::size_t attempts = 30;     // per intent, for answers without a verdict
    std::chrono::milliseconds timeout{30000};        // per request (connect, read, write)
    std::chrono::milliseconds max_retry_wait{5000};  // cap on a Retry-After or a backoff
    // Called about once a second from one of the workers: answered so far.
    std::function<void(std::size_t answered, std::size_t total)> progress;
};

// The final answer to one intent.
struct Answer {
    int status = 0;      // HTTP status of the final answer; 0: never answered
    std::string code;    // the API's `code` for a refusal
    std::string error;   // the API's `error` (or the transport's) for a refusal
    std::string job_id;  // 202 / 200
    std::string record_id;
    std::size_t attempts = 0;
    double latency_ms = 0;  // first attempt sent -> final answer read
};

struct LoadResult {
    std::vector<Answer> answers;  // one per intent, in input order
    std::size_t accepted = 0;     // 202: a new job, durable
    std::size_t existing = 0;     // 200: the record's job already existed
    std::size_t refused = 0;      // other 4xx: the intent itself is wrong
    std::size_t unanswered = 0;   // still no verdict after every attempt
    std::map<std::string, std::size_t> refused_by_code;
    std::size_t retried_unavailable = 0;  // 503s retried
    std::size_t retried_no_answer = 0;    // transport failures and other 5xx retried
    std::size_t requests = 0;
    double seconds = 0;  // first request -> last answer
    double latency_p50_ms = 0, latency_p99_ms = 0, latency_max_ms = 0;  // of 202/200 answers
};

// Posts every intent (each one JSON object, as it goes on the wire); never
// throws for what the server or the network does. An empty string in
// `error` means the run happened (read the result for its outcome); else it
// says what was wrong with the options.
LoadResult run_load(const std::vector<std::string>& intents, const LoadOptions& options,
                    std::string& error);

}  // namespace raregen::load
