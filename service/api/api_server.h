#pragma once
// ApiServer: RareGen's HTTP API (docs/protocol.md §6) in front of a running
// service Engine, so that a client written for the old rare-gen-server works
// unchanged. Routes, on the public address (PORT, default 3000):
//
//   POST /v1/publish          one intent (Content-Type application/json).
//        202 {ok:true, recordId, hash, jobId, status:"queued"} only once the
//            job's job_accepted fact is DURABLE (design.md invariant 1): the
//            request waits for the write-behind's watermark, so concurrent
//            requests share one flush (group commit), never one per request
//        200 {ok:true, recordId, hash, jobId, status, existing:true} when a
//            job was already made from the same correctly signed record (a
//            client retrying after a lost answer, even before the first
//            attempt is durable): the existing job, never a second one
//        400 {ok:false, error, code, field} the ingest stage's verdict, with
//            its reasons in its order (code: bad_json, schema, stale, future,
//            nonce_replay, bad_signature, unknown_signer, inactive_signer),
//            or storage_refused (the database refused the row)
//        413 body over the limit (code too_large); 415 not JSON (code
//            unsupported_media_type)
//        503 + Retry-After: the database is away, intake is full or held
//            up (backpressure), the nonce store is full, the fact is not
//            durable within the wait, or the service is stopping (code
//            unavailable / capacity / not_durable / shutting_down). Never a
//            202 for something not durable.
//   POST /v1/publish/batch    many intents: a JSON array, or NDJSON
//        (application/x-ndjson), at most max_batch_items; 200 {ok, results:
//        [...]} with one result per item in order, each the body the single
//        route would answer plus its `httpStatus`; the whole batch waits for
//        one durable watermark
//   GET  /v1/job/:jobId       {ok, jobId, recordId, status, txid, errorCode,
//        errorDetail, timestamps:{createdAt, sentAt, confirmedAt}}; 404
//   GET  /v1/record/:recordId the latest job of that record: {ok, recordId,
//        recordHash, status, txid, createdAt, jobId, record}; 404
//   GET  /health              {ok, database, writeBehind, network, pool,
//        intake, timestamp}; 503 when not ok (reasons go to the log, not to
//        the unauthenticated caller)
//   GET  /info                {name, version, environment, features, settings}
//        (the settings in force, never a secret)
//
// Timestamps are ISO 8601 in UTC with milliseconds, as the old service's
// JSON dates were. Reads go through a small pool of database connections of
// their own (never the write-behind's).
//
// Threads: cpp-httplib serves each connection on a worker of a fixed pool
// (`threads`); a publish request blocks its worker until the ingest stage
// has judged it and its fact is durable. start()/stop() from the owning
// thread; notify_durable() from any thread (wire EngineConfig::on_durable).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace raregen::ingest {
class IntakeQueue;
}
namespace raregen::service {
class Engine;
}

namespace raregen::api {

using Json = nlohmann::ordered_json;

struct ApiOptions {
    std::string host = "0.0.0.0";
    int port = 3000;                                // 0: any free port (see port())
    std::size_t max_body = 64 * 1024;               // one intent; larger: 413
    std::size_t max_batch_items = 1000;             // items per /v1/publish/batch
    std::size_t max_batch_body = 16 * 1024 * 1024;  // bytes per batch request
    std::chrono::milliseconds durable_wait{10000};  // then 503 not_durable
    std::size_t threads = 256;                      // HTTP workers (one per open connection)
    std::size_t read_connections = 4;               // database connections for GETs
    std::string conninfo;                           // a secret: never logged
    std::string environment = "production";
    Json settings = Json::object();  // shown by /info (the caller leaves secrets out)
    std::function<void(std::string_view)> on_log;
};

struct ApiStats {
    std::uint64_t requests = 0;
    std::uint64_t accepted = 0;     // 202s
    std::uint64_t existing = 0;     // 200s for a record already accepted
    std::uint64_t rejected = 0;     // 400s
    std::uint64_t unavailable = 0;  // 503s
};

class ApiServer {
  public:
    // The engine must be started (service mode, with `queue` as its intake
    // queue) and outlive the server.
    ApiServer(service::Engine& engine, ingest::IntakeQueue& queue, ApiOptions options);
    ~ApiServer();  // stops
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    // Binds and starts serving. Returns "" or what went wrong (address in use).
    std::string start();
    // The port bound (after start()).
    int port() const;
    // Stops listening, closes connections and joins the workers (requests
    // in progress finish first). Idempotent.
    void stop();
    // The durable watermark moved: wakes the requests waiting for it.
    void notify_durable();

    ApiStats stats() const;

  private:
    struct State;
    std::unique_ptr<State> m_state;
};

// Splits a JSON array's text into its elements' texts (views into `text`),
// without parsing them: strings and nesting are tracked, nothing else is
// checked (each element is validated as an intent afterwards). not_an_array:
// `text` is not a syntactically closed array (after whitespace), or has an
// empty element; too_many: more than `max_items` elements.
enum class SplitResult { ok, not_an_array, too_many };
SplitResult split_json_array(std::string_view text, std::size_t max_items,
                             std::vector<std::string_view>& items);

}  // namespace raregen::api
