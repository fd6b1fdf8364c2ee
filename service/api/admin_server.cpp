#include "service/api/admin_server.h"

#include <httplib.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "engine/chain/bytes.h"
#include "engine/chain/secrets.h"
#include "engine/model/signer_registry.h"
#include "service/engine/engine.h"
#include "storage/keys/signers.h"
#include "storage/pg/connection.h"

namespace raregen::api {

namespace {
using Json = nlohmann::ordered_json;

void reply(httplib::Response& res, int status, const Json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json; charset=utf-8");
}

void fail(httplib::Response& res, int status, std::string_view code, const std::string& error) {
    reply(res, status, Json{{"ok", false}, {"error", error}, {"code", code}});
}
}  // namespace

struct AdminServer::State {
    State(service::Engine& e, AdminOptions opts) : engine(e), o(std::move(opts)) {}

    service::Engine& engine;
    AdminOptions o;
    httplib::Server server;
    std::thread thread;
    int port = -1;
    std::mutex changes;  // one change at a time: the table and the engine agree

    void log(const std::string& line) const {
        if (o.on_log) o.on_log(line);
    }

    bool authorized(const httplib::Request& req, httplib::Response& res) const {
        if (chain::bearer_matches(req.get_header_value("Authorization"), o.token)) return true;
        res.set_header("WWW-Authenticate", "Bearer");
        fail(res, 401, "unauthorized", "missing or wrong Bearer token");
        return false;
    }

    // A connection for one request, or a 503 answered.
    std::optional<pg::Connection> connect(httplib::Response& res) const {
        pg::Status st;
        pg::ConnectOptions co;
        co.connect_timeout_s = 3;
        co.application_name = "raregen admin";
        auto c = pg::Connection::try_connect(o.conninfo, st, co);
        if (!c) {
            log("admin: the database cannot be reached: " + st.message());
            res.set_header("Retry-After", "5");
            fail(res, 503, "unavailable", "the database cannot be reached; try again");
        }
        return c;
    }

    static std::optional<ingest::CompressedPubkey> pubkey_of(std::string_view hex,
                                                             httplib::Response& res) {
        std::string why;
        auto k = keys::parse_compressed_pubkey(hex, &why);
        if (!k) fail(res, 400, "bad_pubkey", "pubkey: " + why);
        return k;
    }

    void list(httplib::Response& res) {
        auto c = connect(res);
        if (!c) return;
        const keys::SignerList l = keys::list_signers(*c);
        if (!l.ok()) return fail(res, 503, "unavailable", "reading registered_keys failed");
        Json signers = Json::array();
        for (const keys::SignerRow& r : l.signers) {
            Json policy = nullptr;
            if (r.policy_json) policy = Json::parse(*r.policy_json, nullptr, false);
            signers.push_back(Json{{"pubkey", r.pubkey_hex},
                                   {"status", r.status ? Json(*r.status) : Json(nullptr)},
                                   {"active", r.active()},
                                   {"policy", std::move(policy)}});
        }
        reply(res, 200, Json{{"ok", true}, {"signers", std::move(signers)}});
    }

    void register_signer(const httplib::Request& req, httplib::Response& res) {
        const Json body = Json::parse(req.body, nullptr, false);
        if (!body.is_object())
            return fail(res, 400, "bad_json", "the body must be a JSON object {\"pubkey\": ...}");
        if (!body.contains("pubkey") || !body["pubkey"].is_string())
            return fail(res, 400, "bad_pubkey",
                        "pubkey: missing, or not a string of 66 hex digits");
        const auto key = pubkey_of(body["pubkey"].get<std::string>(), res);
        if (!key) return;
        std::optional<std::string> policy;
        if (body.contains("policy") && !body["policy"].is_null()) {
            if (!body["policy"].is_object())
                return fail(res, 400, "bad_policy", "policy: must be a JSON object");
            policy = body["policy"].dump();
        }
        std::lock_guard lock(changes);
        auto c = connect(res);
        if (!c) return;
        const keys::RegisterResult r = keys::register_signer(
            *c, *key, policy ? std::optional<std::string_view>(*policy) : std::nullopt);
        if (!r.ok()) return fail(res, 503, "unavailable", "writing registered_keys failed");
        engine.set_signer(*key, ingest::SignerStatus::active);
        const std::string hex = chain::to_hex(chain::ByteSpan(key->data(), key->size()));
        const std::string_view outcome = keys::register_outcome_name(r.outcome);
        log("admin: signer " + hex + " " + std::string(outcome));
        reply(res, 200,
              Json{{"ok", true}, {"pubkey", hex}, {"outcome", outcome}, {"status", "active"}});
    }

    void revoke(const std::string& hex_in, httplib::Response& res) {
        const auto key = pubkey_of(hex_in, res);
        if (!key) return;
        std::lock_guard lock(changes);
        auto c = connect(res);
        if (!c) return;
        const keys::RevokeResult r = keys::revoke_signer(*c, *key);
        const std::string hex = chain::to_hex(chain::ByteSpan(key->data(), key->size()));
        if (r.outcome == keys::RevokeOutcome::not_registered)
            return fail(res, 404, "not_registered",
                        "no signer " + hex + " is registered (nothing to revoke)");
        if (!r.ok()) return fail(res, 503, "unavailable", "writing registered_keys failed");
        engine.set_signer(*key, ingest::SignerStatus::inactive);
        const std::string_view outcome = keys::revoke_outcome_name(r.outcome);
        log("admin: signer " + hex + " " + std::string(outcome));
        reply(res, 200,
              Json{{"ok", true}, {"pubkey", hex}, {"outcome", outcome}, {"status", "revoked"}});
    }
};

AdminServer::AdminServer(service::Engine& engine, AdminOptions options)
    : m_state(std::make_unique<State>(engine, std::move(options))) {}

AdminServer::~AdminServer() {
    stop();
}

std::string AdminServer::start() {
    State& s = *m_state;
    if (s.o.token.empty())
        return "the operator endpoints need a token (--admin-token-file, a 0600 file): without "
               "one anyone who reaches them could register a signer";
    httplib::Server& svr = s.server;
    svr.new_task_queue = [] { return new httplib::ThreadPool(4); };
    svr.set_payload_max_length(64 * 1024);
    svr.Get("/admin/signers", [&s](const httplib::Request& req, httplib::Response& res) {
        if (s.authorized(req, res)) s.list(res);
    });
    svr.Post("/admin/signers", [&s](const httplib::Request& req, httplib::Response& res) {
        if (s.authorized(req, res)) s.register_signer(req, res);
    });
    svr.Post(R"(/admin/signers/([^/]+)/revoke)",
             [&s](const httplib::Request& req, httplib::Response& res) {
                 if (s.authorized(req, res)) s.revoke(req.matches[1].str(), res);
             });
    svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return;
        fail(res, res.status, res.status == 404 ? "not_found" : "bad_request",
             res.status == 404 ? "Not found" : "the request could not be served");
    });
    s.port = s.o.port == 0 ? svr.bind_to_any_port(s.o.host)
                           : (svr.bind_to_port(s.o.host, s.o.port) ? s.o.port : -1);
    if (s.port < 0)
        return "the operator endpoints cannot listen on " + s.o.host + ":" +
               std::to_string(s.o.port) +
               " (in use, or not an address of this machine): set --admin-listen";
    s.thread = std::thread([&s] { s.server.listen_after_bind(); });
    while (!svr.is_running())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return {};
}

int AdminServer::port() const {
    return m_state->port;
}

void AdminServer::stop() {
    State& s = *m_state;
    if (!s.thread.joinable()) return;
    s.server.stop();
    s.thread.join();
}

}  // namespace raregen::api
