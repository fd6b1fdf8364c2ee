// `raregen serve`: the RareGen service. The engine that `raregen run`
// assembles (service::Engine, from the same flags: engine_flags.h), in
// service mode, with RareGen's HTTP API in front of it (service/api): intents
// arrive as POST /v1/publish (or /v1/publish/batch) and are answered 202 only
// once durable; rows another process inserts as `queued` (an old API
// instance during a migration) are claimed as well. Runs until SIGTERM or
// SIGINT, then stops intake (new intents get 503), drains every stage and
// the write-behind, answers what waited, and exits 0 with nothing accepted
// lost; the summary JSON goes to stdout.
//
// Settings: the seed's environment (PORT, DATABASE_URL, ARC_URL,
// ARC_API_KEY, BATCH_WINDOW_MS, MAX_BATCH_SIZE, MAX_TX_PER_3S, RAREGEN_WIF,
// NODE_ENV), each overridable by a flag.
//
// With --admin-token-file (env RAREGEN_ADMIN_TOKEN_FILE), the operator
// endpoints (service/api/admin_server.h: signer register/revoke/list) listen
// on --admin-listen, loopback by default, behind that bearer token.

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "service/api/admin_server.h"
#include "service/api/api_server.h"
#include "service/engine/engine.h"
#include "stages/ingest/intake_queue.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"
#include "tools/raregen/engine_flags.h"

namespace raregen::cli {

namespace {

struct ServeOptions {
    EngineFlags engine;
    std::string listen;  // HOST:PORT; default 0.0.0.0:$PORT (3000)
    std::uint64_t port = 3000;
    std::size_t http_threads = 256;
    std::size_t intake_capacity = 4096;
    std::uint64_t durable_wait_ms = 10000;
    std::size_t max_body = 64 * 1024;
    std::size_t max_batch_items = 1000;
    std::size_t read_connections = 4;
    std::string environment = "production";
    std::string admin_listen;  // HOST:PORT; default 127.0.0.1:3001
    std::string admin_token_file;
    std::string port_file;  // written once the API answers (a parent using port 0 reads it)
};

bool split_host_port(const std::string& text, std::string& host, int& port) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    const std::string p = text.substr(colon + 1);
    char* end = nullptr;
    const long n = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || n < 0 || n > 65535) return false;
    host = text.substr(0, colon);
    port = static_cast<int>(n);
    return true;
}

int serve(const ServeOptions& o) {
    api::ApiOptions ao;
    const std::string listen = o.listen.empty() ? "0.0.0.0:" + std::to_string(o.port) : o.listen;
    if (!split_host_port(listen, ao.host, ao.port))
        return usage_error("--listen '" + listen +
                           "' must be HOST:PORT with PORT 0..65535 (0: any free port), e.g. "
                           "0.0.0.0:3000");
    if (o.intake_capacity == 0 || o.http_threads == 0 || o.max_batch_items == 0 ||
        o.max_body == 0 || o.read_connections == 0)
        return usage_error(
            "--intake-capacity, --http-threads, --max-body, --max-batch-items and "
            "--read-connections must be at least 1");

    api::AdminOptions admin;
    const std::string admin_listen = o.admin_listen.empty() ? "127.0.0.1:3001" : o.admin_listen;
    if (!split_host_port(admin_listen, admin.host, admin.port))
        return usage_error("--admin-listen '" + admin_listen +
                           "' must be HOST:PORT with PORT 0..65535, e.g. 127.0.0.1:3001");
    if (!o.admin_listen.empty() && o.admin_token_file.empty())
        return usage_error(
            "--admin-listen needs --admin-token-file (a 0600 file holding the operators' bearer "
            "token; env RAREGEN_ADMIN_TOKEN_FILE)");
    if (!o.admin_token_file.empty()) {
        auto t = read_secret_file(o.admin_token_file);
        if (!t) return usage_error("--admin-token-file: " + t.error);
        admin.token = std::string(t.value->view());
    }

    ingest::IntakeQueue queue(o.intake_capacity);
    std::atomic<api::ApiServer*> api_ptr{nullptr};
    service::EngineConfig c;
    c.service = true;
    c.input_fd = -1;
    c.intake_queue = &queue;
    c.log_prefix = "raregen serve";
    c.on_durable = [&api_ptr] {
        if (api::ApiServer* a = api_ptr.load(std::memory_order_acquire)) a->notify_durable();
    };
    if (const int rc = engine_config_from_flags(o.engine, /*memory=*/false, c); rc != k_exit_ok)
        return rc;

    ao.threads = o.http_threads;
    ao.durable_wait = std::chrono::milliseconds(o.durable_wait_ms);
    ao.max_body = o.max_body;
    ao.max_batch_items = o.max_batch_items;
    ao.read_connections = o.read_connections;
    ao.environment = o.environment;
    ao.settings = Json{{"listen", listen},
                       {"batchWindowMs", o.engine.window_ms},
                       {"maxBatchSize", o.engine.batch_size},
                       {"maxTxPer3s", o.engine.rate},
                       {"periodMs", o.engine.period_ms},
                       {"gate", !o.engine.no_gate},
                       {"network", c.arc ? "arc" : "file"},
                       {"intakeCapacity", o.intake_capacity},
                       {"durableWaitMs", o.durable_wait_ms},
                       {"maxBody", o.max_body},
                       {"maxBatchItems", o.max_batch_items},
                       {"ring", o.engine.ring_capacity}};

    service::Engine engine(std::move(c));
    if (service::EngineError e = engine.start(); e)
        return e.kind == service::EngineError::Kind::usage ? usage_error(e.message)
                                                           : internal_error(e.message);
    ao.conninfo = engine.conninfo();
    ao.settings["instance"] = engine.instance_id();
    ao.on_log = [](std::string_view m) {
        std::fprintf(stderr, "raregen serve: %.*s\n", static_cast<int>(m.size()), m.data());
    };
    api::ApiServer server(engine, queue, std::move(ao));
    if (std::string e = server.start(); !e.empty()) {
        engine.request_stop();
        engine.wait();
        return usage_error(e);
    }
    api_ptr.store(&server, std::memory_order_release);
    std::optional<api::AdminServer> admin_server;
    if (!admin.token.empty()) {
        admin.conninfo = engine.conninfo();
        admin.on_log = [](const std::string& m) {
            std::fprintf(stderr, "raregen serve: %s\n", m.c_str());
        };
        admin_server.emplace(engine, std::move(admin));
        if (std::string e = admin_server->start(); !e.empty()) {
            server.stop();
            engine.request_stop();
            engine.wait();
            return usage_error(e);
        }
        std::fprintf(stderr, "raregen serve: operator endpoints on http://%s:%d/admin/\n",
                     admin_listen.substr(0, admin_listen.rfind(':')).c_str(), admin_server->port());
    }
    std::fprintf(stderr, "raregen serve: API listening on http://%s:%d (instance %s)\n",
                 listen.substr(0, listen.rfind(':')).c_str(), server.port(),
                 engine.instance_id().c_str());
    std::fflush(stderr);
    if (!o.port_file.empty()) {
        if (const std::string why = write_port_file(o.port_file, server.port()); !why.empty()) {
            // Without it the parent cannot reach us: stop as a failed start.
            server.stop();
            if (admin_server) admin_server->stop();
            api_ptr.store(nullptr, std::memory_order_release);
            engine.request_stop();
            engine.wait();
            return internal_error(why);
        }
    }

    engine.wait();  // SIGTERM/SIGINT: intake stops, everything accepted drains
    server.stop();  // requests still waiting were answered by the drain
    if (admin_server) admin_server->stop();
    api_ptr.store(nullptr, std::memory_order_release);

    Json summary = engine.summary();
    const api::ApiStats st = server.stats();
    summary["api"] = Json{{"requests", st.requests},
                          {"accepted", st.accepted},
                          {"existing", st.existing},
                          {"rejected", st.rejected},
                          {"unavailable", st.unavailable}};
    const int printed = print_json(summary);
    if (service::EngineError e = engine.outcome(); e)
        return e.kind == service::EngineError::Kind::usage ? usage_error(e.message)
                                                           : internal_error(e.message);
    return printed;
}

}  // namespace

void register_serve_command(CLI::App& app) {
    auto opts = std::make_shared<ServeOptions>();
    apply_env_defaults(opts->engine);
    env_default_u64("PORT", opts->port);
    if (const char* e = std::getenv("NODE_ENV"); e != nullptr && *e != '\0') opts->environment = e;
    if (const char* e = std::getenv("RAREGEN_ADMIN_TOKEN_FILE"); e != nullptr && *e != '\0')
        opts->admin_token_file = e;
    CLI::App* serve_cmd = app.add_subcommand(
        "serve",
        "Run the RareGen service: the pipeline of `raregen run`, running until stopped, with "
        "RareGen's HTTP API in front (POST /v1/publish, POST /v1/publish/batch, GET "
        "/v1/job/:jobId, GET /v1/record/:recordId, GET /health, GET /info). An intent is "
        "answered 202 only once durable in PostgreSQL (DATABASE_URL, else a private cluster). "
        "Rows another process inserts as queued are published too. SIGTERM/SIGINT: intake "
        "stops, everything accepted is published, exit 0. Settings from PORT, DATABASE_URL, "
        "ARC_URL, ARC_API_KEY, BATCH_WINDOW_MS, MAX_BATCH_SIZE, MAX_TX_PER_3S, RAREGEN_WIF; "
        "flags override them.");
    serve_cmd->add_option("--listen", opts->listen,
                          "HOST:PORT for the API (default 0.0.0.0:$PORT, PORT 3000; port 0: any "
                          "free port, printed on stderr)");
    serve_cmd
        ->add_option("--http-threads", opts->http_threads,
                     "HTTP workers: each open connection holds one")
        ->capture_default_str();
    serve_cmd
        ->add_option("--intake-capacity", opts->intake_capacity,
                     "intents waiting for the ingest stage at most; beyond: 503 capacity")
        ->capture_default_str();
    serve_cmd
        ->add_option("--durable-wait-ms", opts->durable_wait_ms,
                     "how long a request waits for its intent to be durable before 503 "
                     "not_durable (a retry of the same intent is answered with its job)")
        ->capture_default_str();
    serve_cmd->add_option("--max-body", opts->max_body, "largest intent in bytes (larger: 413)")
        ->capture_default_str();
    serve_cmd
        ->add_option("--max-batch-items", opts->max_batch_items,
                     "intents per POST /v1/publish/batch at most")
        ->capture_default_str();
    serve_cmd
        ->add_option("--read-connections", opts->read_connections,
                     "database connections for the read routes")
        ->capture_default_str();
    serve_cmd->add_option("--environment", opts->environment, "shown by GET /info (env NODE_ENV)")
        ->capture_default_str();
    serve_cmd->add_option("--admin-token-file", opts->admin_token_file,
                          "file (mode 0600) holding the bearer token of the operator endpoints "
                          "(GET/POST /admin/signers, POST /admin/signers/PUBKEY/revoke); without "
                          "it they are off (env RAREGEN_ADMIN_TOKEN_FILE)");
    serve_cmd->add_option("--admin-listen", opts->admin_listen,
                          "HOST:PORT of the operator endpoints (default 127.0.0.1:3001; port 0: "
                          "any free port, printed on stderr)");
    serve_cmd->add_option("--port-file", opts->port_file,
                          "write the API's port to this file once it answers (for a parent "
                          "that started it with port 0, e.g. raregen demo)");
    add_engine_flags(*serve_cmd, opts->engine);
    set_action(*serve_cmd, [opts] { return serve(*opts); });
}

}  // namespace raregen::cli
