#include "storage/callbacks/callback_receiver.h"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "engine/chain/secrets.h"
#include "storage/pg/connection.h"

namespace raregen::callbacks {

namespace {

// One statement per request: MINED confirms (a row with the txid is signed
// already, even if its release or sent fact has not landed yet), the rest is
// recorded. A txid is confirmed once (a retried callback finds the row
// confirmed already).
constexpr const char* k_apply_sql = R"SQL(
WITH e AS (
    SELECT x ->> 'txid' AS txid, x ->> 'txStatus' AS st, x AS doc
      FROM jsonb_array_elements($1::jsonb) x
), upd AS (
    UPDATE publish_jobs p
       SET status = 'confirmed', confirmed_at = coalesce(p.confirmed_at, now()),
           sent_at = coalesce(p.sent_at, now()), updated_at = now()
      FROM (SELECT DISTINCT txid FROM e WHERE st = 'MINED') m
     WHERE p.txid = m.txid AND p.status IN ('processing_batch', 'sending', 'sent')
    RETURNING p.txid
), aud AS (
    -- Everything that did not confirm a row: other statuses, and a MINED for
    -- a job that is not waiting for it (failed, say, after a double spend
    -- whose other side lost): exactly what an operator needs to see.
    INSERT INTO audit_log (event, event_type, actor, job_id, record_id, detail)
    SELECT 'arc_status', 'arc_status', 'arc', p.job_id, p.record_id, e.doc
      FROM e LEFT JOIN publish_jobs p ON p.txid = e.txid
     WHERE e.st IS DISTINCT FROM 'MINED'
        OR (p.status IS DISTINCT FROM 'confirmed' AND e.txid NOT IN (SELECT txid FROM upd))
    RETURNING 1
)
SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM aud),
       (SELECT count(*) FROM e WHERE NOT EXISTS (SELECT 1 FROM publish_jobs q WHERE q.txid = e.txid)),
       (SELECT count(*) FROM e)
)SQL";

}  // namespace

struct CallbackReceiver::Impl {
    CallbackReceiverOptions options;
    httplib::Server server;
    std::thread thread;
    std::mutex db_mu;
    std::optional<pg::Connection> db;  // guarded by db_mu
    std::atomic<std::uint64_t> requests{0}, callbacks{0}, confirmed{0}, recorded{0},
        unknown_txids{0}, unauthorized{0}, bad_requests{0}, database_errors{0};

    void log(std::string_view m) const {
        if (options.on_log) options.on_log(m);
    }

    // Runs the statement; false (and the connection reset) on failure.
    bool apply(const std::string& callbacks_json) {
        std::lock_guard lock(db_mu);
        if (!db || !db->ok()) {
            pg::Status st;
            db = pg::Connection::try_connect(options.conninfo, st);
            if (!db) {
                log("ARC callback: database unreachable: " + st.message());
                return false;
            }
        }
        pg::Result r = db->exec_params(k_apply_sql, callbacks_json);
        if (!r.ok()) {
            log("ARC callback: writing failed: " + r.error());
            return false;
        }
        confirmed.fetch_add(std::stoull(std::string(r.text(0, 0))), std::memory_order_relaxed);
        recorded.fetch_add(std::stoull(std::string(r.text(0, 1))), std::memory_order_relaxed);
        unknown_txids.fetch_add(std::stoull(std::string(r.text(0, 2))), std::memory_order_relaxed);
        callbacks.fetch_add(std::stoull(std::string(r.text(0, 3))), std::memory_order_relaxed);
        return true;
    }

    void handle(const httplib::Request& req, httplib::Response& res) {
        requests.fetch_add(1, std::memory_order_relaxed);
        if (!chain::bearer_matches(req.get_header_value("Authorization"), options.token)) {
            unauthorized.fetch_add(1, std::memory_order_relaxed);
            res.status = 401;
            res.set_content(R"({"error":"missing or wrong Bearer token"})", "application/json");
            return;
        }
        nlohmann::json list = nlohmann::json::array();
        try {
            const nlohmann::json body = nlohmann::json::parse(req.body);
            if (body.is_object() && body.contains("callbacks")) {
                list = body.at("callbacks");
            } else if (body.is_object()) {
                list.push_back(body);
            }
            if (!list.is_array()) throw std::invalid_argument("callbacks is not an array");
            for (const auto& c : list)
                if (!c.is_object() || !c.contains("txid") || !c.at("txid").is_string())
                    throw std::invalid_argument("a callback without a txid");
        } catch (const std::exception& e) {
            bad_requests.fetch_add(1, std::memory_order_relaxed);
            res.status = 400;
            res.set_content(
                nlohmann::json{{"error", std::string("unreadable callback: ") + e.what()}}.dump(),
                "application/json");
            return;
        }
        if (!apply(list.dump())) {
            database_errors.fetch_add(1, std::memory_order_relaxed);
            res.status = 503;  // ARC retries
            res.set_content(R"({"error":"database unavailable, try again"})", "application/json");
            return;
        }
        res.status = 200;
        res.set_content(R"({"ok":true})", "application/json");
    }
};

CallbackReceiver::CallbackReceiver(CallbackReceiverOptions options)
    : m_impl(std::make_unique<Impl>()) {
    if (options.token.empty())
        throw std::invalid_argument(
            "ARC callbacks need a token (--callback-token-file): without one anyone could mark "
            "jobs confirmed");
    m_impl->options = std::move(options);
}

CallbackReceiver::~CallbackReceiver() {
    stop();
}

std::string CallbackReceiver::start() {
    Impl& s = *m_impl;
    {
        std::lock_guard lock(s.db_mu);
        pg::Status st;
        s.db = pg::Connection::try_connect(s.options.conninfo, st);
        if (!s.db) return "ARC callbacks: " + st.message();
    }
    // A callback batch is small; a body past this is not ARC's.
    s.server.set_payload_max_length(4u << 20);
    s.server.Post("/arc/callback", [&s](const httplib::Request& req, httplib::Response& res) {
        s.handle(req, res);
    });
    const int port =
        s.options.port == 0
            ? s.server.bind_to_any_port(s.options.host)
            : (s.server.bind_to_port(s.options.host, s.options.port) ? s.options.port : -1);
    if (port <= 0)
        return "ARC callbacks: cannot listen on " + s.options.host + ":" +
               std::to_string(s.options.port) + " (in use, or not an address of this machine)";
    m_port = port;
    s.thread = std::thread([&s] { s.server.listen_after_bind(); });
    return {};
}

std::string CallbackReceiver::url() const {
    return "http://" + m_impl->options.host + ":" + std::to_string(m_port) + "/arc/callback";
}

void CallbackReceiver::stop() noexcept {
    if (!m_impl) return;
    if (m_impl->thread.joinable()) {
        m_impl->server.stop();
        m_impl->thread.join();
    }
}

CallbackStats CallbackReceiver::stats() const noexcept {
    const Impl& s = *m_impl;
    CallbackStats out;
    out.requests = s.requests.load(std::memory_order_relaxed);
    out.callbacks = s.callbacks.load(std::memory_order_relaxed);
    out.confirmed = s.confirmed.load(std::memory_order_relaxed);
    out.recorded = s.recorded.load(std::memory_order_relaxed);
    out.unknown_txids = s.unknown_txids.load(std::memory_order_relaxed);
    out.unauthorized = s.unauthorized.load(std::memory_order_relaxed);
    out.bad_requests = s.bad_requests.load(std::memory_order_relaxed);
    out.database_errors = s.database_errors.load(std::memory_order_relaxed);
    return out;
}

}  // namespace raregen::callbacks
