#pragma once
// AdminServer: the operator endpoints of `raregen serve`, everything that
// changes state without a signed intent. They listen on an address of their
// own (loopback by default, never the public API's) and answer only requests
// carrying `Authorization: Bearer <token>` (the token from a 0600 file; a
// missing or wrong one is 401 with WWW-Authenticate: Bearer, and the token is
// never logged or echoed).
//
//   GET  /admin/signers                     {ok, signers: [{pubkey, status,
//        policy}]}: every row of registered_keys
//   POST /admin/signers                     {"pubkey": "<66 hex>",
//        "policy": {...}?}: registers the signer (or reactivates it): 200 {ok,
//        pubkey, outcome: registered|reactivated|already_active, status}
//   POST /admin/signers/:pubkey/revoke      200 {ok, pubkey, outcome:
//        revoked|already_revoked, status}; 404 code not_registered
//
// A change is written to registered_keys first, then handed to the running
// engine (Engine::set_signer): the next intent of that signer is judged by
// it, with no restart (the old service needed SQL and a restart). Changes are
// serialised (one at a time), so the table and the engine agree. 400 {ok:
// false, error, code} for a bad body (bad_json, bad_pubkey, bad_policy); 503
// when the database cannot be reached.
//
// Threads: a small pool of its own; start()/stop() from the owning thread.

#include <functional>
#include <memory>
#include <string>

namespace raregen::service {
class Engine;
}

namespace raregen::api {

struct AdminOptions {
    std::string host = "127.0.0.1";
    int port = 3001;       // 0: any free port (see port())
    std::string token;     // required (a secret: never logged)
    std::string conninfo;  // the engine's database (a secret: never logged)
    std::function<void(const std::string&)> on_log;  // one line per change
};

class AdminServer {
  public:
    AdminServer(service::Engine& engine, AdminOptions options);
    ~AdminServer();  // stop()
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    // Binds and starts serving; "" on success, else what is wrong and what
    // to do (an empty token, an address in use).
    std::string start();
    int port() const;
    void stop();

  private:
    struct State;
    std::unique_ptr<State> m_state;
};

}  // namespace raregen::api
