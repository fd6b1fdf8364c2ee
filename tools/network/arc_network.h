#pragma once
// ArcNetwork: a local, in-process stand-in for BSV's ARC broadcaster, with
// ARC's five endpoints, bodies, headers and error codes (docs/protocol.md §5,
// shared/testdata/arc_openapi.json), a UTXO set, P2PKH validation, blocks on
// a timer, status callbacks, seeded fault injection, and admin endpoints
// (/admin/fund, /admin/policy, /admin/mine, /admin/txs, /admin/stats) that
// the engine's tests and demo use to fund keys and to prove exactly-once.
//
// What it is not: a node. Only P2PKH inputs are verified (the engine spends
// nothing else); merklePath is always empty; BEEF is not accepted; X-WaitFor
// never waits (QUEUED/RECEIVED/STORED echo that status, anything else
// answers SEEN_ON_NETWORK); the X-Skip* headers are ignored. Timestamps
// and block timing read the system clock: this is a test tool, not a stage.
//
// Thread contract
//   * start(), stop() and the destructor belong to the owner's thread.
//     start() throws std::runtime_error (start-up tier) if the API key file
//     cannot be read or the address cannot be bound.
//   * Requests are served by a pool of `threads` workers. Each request
//     parses and verifies signatures without any lock, then takes the one
//     state mutex briefly to check inputs against the UTXO set and commit;
//     so requests verify in parallel and commit atomically.
//   * mine_block(), set_fee_rate() and stats() may be called from any thread.
//   * Callbacks go out on a thread of their own (callbacks.h) and never
//     block request handling or blocks.
//   * A keep-alive connection holds a worker until it closes or idles for
//     keep_alive_timeout_s, so more concurrent keep-alive clients than
//     `threads` queue behind each other.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/chain/fees.h"

namespace raregen::network {

// Faults apply only to POST /v1/tx and /v1/txs, drawn from one PRNG seeded
// with `seed` (the sequence of draws is reproducible; which request gets
// which draw depends on arrival order).
struct FaultOptions {
    std::uint32_t latency_min_ms = 0;  // uniform per request in [min, max]
    std::uint32_t latency_max_ms = 0;
    // HTTP status -> share of requests answered with that status's error
    // object before anything is done (e.g. {503, 0.10}, {500, 0.02}).
    std::vector<std::pair<int, double>> fail;
    // Share of requests that sleep timeout_ms before answering; half of them
    // apply their transactions first (the client cannot tell which).
    double timeout_share = 0;
    std::uint32_t timeout_ms = 35'000;
    // Share of requests whose connection is closed mid-response; half of
    // them apply their transactions first.
    double drop_share = 0;
    // Share of otherwise valid transactions answered REJECTED (HTTP 200
    // entry) and not stored: their inputs stay spendable.
    double reject_share = 0;
    // Only transactions with at least this many outputs are candidates for
    // reject_share (0: every one), e.g. the replenisher's splits and not the
    // publications.
    std::uint32_t reject_min_outputs = 0;
    std::uint64_t seed = 1;
};

struct NetworkOptions {
    std::string host = "127.0.0.1";
    int port = 0;  // 0: any free port (read it back with port())
    chain::FeeRate fee_rate{};
    std::uint32_t block_interval_ms = 1000;  // 0: blocks only through mine_block()/admin
    unsigned threads = 0;                    // request workers; 0: max(16, 2 x hardware threads)
    std::string api_key_file;                // empty: no authentication
    FaultOptions faults;
    std::uint32_t callback_attempts = 10;
    std::uint32_t callback_backoff_ms = 500;
    std::uint32_t callback_timeout_ms = 5000;
    std::uint64_t start_height = 800'000;  // height of the tip before the first block
    std::size_t max_body_bytes = 256u << 20;
    unsigned keep_alive_timeout_s = 2;
};

// Why `options` cannot be used (naming the option), or empty if fine.
std::string validate_options(const NetworkOptions& options);

class ArcNetwork {
  public:
    explicit ArcNetwork(NetworkOptions options);
    ~ArcNetwork();  // stop()
    ArcNetwork(const ArcNetwork&) = delete;
    ArcNetwork& operator=(const ArcNetwork&) = delete;

    // Binds, starts the workers, the block timer and the callback sender,
    // and returns the bound port. Serving has begun when it returns.
    int start();
    // Stops accepting, wakes injected sleeps, joins every thread.
    // Idempotent. Callbacks not yet delivered are abandoned (counted failed).
    void stop();

    int port() const;
    std::string url() const;  // "http://HOST:PORT"

    // Mines every SEEN_ON_NETWORK transaction into a new block (what the
    // timer does) and queues their callbacks. Returns the new height.
    std::uint64_t mine_block();
    void set_fee_rate(chain::FeeRate rate);
    // The counters GET /admin/stats answers.
    nlohmann::ordered_json stats() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> m_impl;
};

}  // namespace raregen::network
