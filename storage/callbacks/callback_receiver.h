#pragma once
// CallbackReceiver: the endpoint ARC calls back (X-CallbackUrl) when a
// transaction's status changes (docs/protocol.md §5). Every request must carry
// `Authorization: Bearer <token>` (the X-CallbackToken the engine sent);
// anything else is answered 401 and counted. The body is one callback
// {timestamp, txid, txStatus, extraInfo, competingTxs, merklePath, blockHash,
// blockHeight} or a batch {count, callbacks: [...]}.
//   MINED          the job with that txid becomes `confirmed`, confirmed_at set
//                  (sent_at too if the sent fact has not landed yet)
//   anything else  recorded in audit_log (event 'arc_status', the job's id,
//                  the callback as detail)
// Each request is written in one transaction and answered 200 only after
// COMMIT; a database failure answers 503, so ARC retries (only 2xx counts).
// Callbacks for txids no job has are answered 200 and counted (ARC would
// otherwise retry them ten times for nothing).
//
// Threads: start()/stop() from the owning thread. cpp-httplib serves
// requests on its own threads; they share one database connection under a
// mutex (callbacks are batched by ARC, a few per block, not a hot path).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace raregen::callbacks {

struct CallbackReceiverOptions {
    std::string host = "127.0.0.1";
    int port = 0;       // 0: any free port (see port())
    std::string token;  // required; never logged
    std::string conninfo;
    std::function<void(std::string_view)> on_log;  // may be empty
};

struct CallbackStats {
    std::uint64_t requests = 0;
    std::uint64_t callbacks = 0;
    std::uint64_t confirmed = 0;  // jobs newly confirmed by MINED
    std::uint64_t recorded = 0;   // other statuses written to audit_log
    std::uint64_t unknown_txids = 0;
    std::uint64_t unauthorized = 0;
    std::uint64_t bad_requests = 0;
    std::uint64_t database_errors = 0;
};

class CallbackReceiver {
  public:
    // Throws std::invalid_argument for an empty token.
    explicit CallbackReceiver(CallbackReceiverOptions options);
    ~CallbackReceiver();
    CallbackReceiver(const CallbackReceiver&) = delete;
    CallbackReceiver& operator=(const CallbackReceiver&) = delete;

    // Connects to the database and starts listening. Returns "" or what went
    // wrong (address in use, database unreachable) for the operator.
    std::string start();
    int port() const noexcept { return m_port; }
    // The path ARC should post to, e.g. http://127.0.0.1:PORT/arc/callback.
    std::string url() const;
    void stop() noexcept;
    CallbackStats stats() const noexcept;

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    int m_port = 0;
};

}  // namespace raregen::callbacks
