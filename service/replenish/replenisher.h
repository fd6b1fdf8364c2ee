#pragma once
// The UTXO replenisher: keeps the `utxos` table's pool of publish UTXOs
// above a floor by splitting funding outputs at ARC, one engine at a time.
//
// A pass (replenish_pass; `raregen utxos replenish` runs one by hand):
//   1. takes the replenisher's advisory lock (storage/pool/split_store.h)
//      or, if another engine holds it, only reads the depth and funding;
//   2. settles the splits a previous pass left without a verdict (a crash,
//      ARC away): ARC is asked for the txid, then the recorded bytes are
//      sent again until ARC says
//      accepted (outputs added) or refused (funding returned, marked dirty);
//      a split still without a verdict stops the pass: nothing new is split
//      while one may be on the network;
//   3. reads the depth (publish UTXOs of the publish value available or
//      held unspent in engines' rings: pool::publish_depth); at or above
//      `min_pool` it is done;
//   4. otherwise splits `split_batch` new outputs from the largest usable
//      funding/change output, then the next largest, and so on: a chain of
//      transactions of at most `per_tx` outputs each (service/split), each
//      recorded before it is sent and its outputs leasable only once ARC
//      accepted it.
//
// The Replenisher thread runs a pass every `check_interval`, and early when
// the consumption rate (the engine's count of UTXOs signed) says the pool
// runs out before the next check. After a pass that split, the next split
// waits `cooldown` unless the pool would run out before the cooldown ends.
// Funding short is not a failure of the engine: health() says so, a log line
// gives the satoshis and the minutes of publishing left, and the engine keeps
// publishing what the pool holds.
//
// Threads: start(), stop() and the destructor from one owner thread;
// health(), may_supply() and poke() from any thread. The pass runs on the
// replenisher's thread with its own connection. It allocates freely: a
// service thread, not a stage.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "engine/chain/fees.h"
#include "engine/chain/publication.h"
#include "storage/pg/connection.h"

namespace raregen::service {

struct ReplenishSettings {
    std::size_t min_pool = 50'000;                     // MIN_POOL_SIZE (also MIN_UTXO_POOL_SIZE)
    std::size_t split_batch = 100'000;                 // SPLIT_BATCH_SIZE (also UTXO_SPLIT_SIZE)
    std::chrono::milliseconds check_interval{30'000};  // POOL_CHECK_INTERVAL_MS
    std::chrono::milliseconds cooldown{60'000};        // SPLIT_COOLDOWN_MS
    std::size_t per_tx = 1000;                         // outputs per split transaction
    std::int64_t publish_value = 100;                  // satoshis per output
    int attempts = 8;  // POSTs per split transaction while ARC gives no verdict
    std::chrono::milliseconds request_timeout{10'000};  // per ARC request
    // On stop, a split transaction in flight still gets this long to have
    // its verdict (else it stays pending for the next pass).
    std::chrono::milliseconds stop_grace{10'000};
};

// Where splits go and who signs them.
struct ReplenishTarget {
    chain::PublicationKey key;  // owns the funding outputs
    std::string arc_url;        // no trailing slash
    std::string api_key;        // a secret; empty: none
    chain::FeeRate fee_rate;    // of the split transactions
    std::string instance_id;    // written with each split (may be empty)
};

struct PassReport {
    // false: another engine's replenisher holds the lock (the depth and the
    // funding are still read)
    bool ran = false;
    std::uint64_t depth_before = 0;
    std::uint64_t depth_after = 0;
    std::size_t resumed_accepted = 0;  // pending splits settled as accepted
    std::size_t resumed_refused = 0;
    std::size_t transactions = 0;       // new split transactions accepted
    std::size_t outputs = 0;            // new publish outputs made
    std::uint64_t fees = 0;             // of the new transactions
    bool split_wanted = false;          // the depth was under the floor
    bool funding_short = false;         // funding ran out before split_batch outputs
    std::int64_t funding_satoshis = 0;  // usable funding left after the pass
    std::uint64_t funding_outputs = 0;
    bool funding_read = false;   // the two above were read
    bool depth_read = false;     // depth_after was read
    bool split_pending = false;  // a split is without a verdict (error says which)
    bool split_refused = false;  // ARC refused a split (its funding is marked dirty)
    std::string error;           // empty: nothing went wrong
};

// One pass (see the top). `allow_split` false: steps 1-3 only. `force`:
// split even at or above the floor (by hand).
PassReport replenish_pass(pg::Connection& conn, const ReplenishTarget& target,
                          const ReplenishSettings& settings, bool allow_split = true,
                          bool force = false);

class Replenisher {
  public:
    struct Health {
        // ok: the last pass went through and funding covers a split batch;
        // "funding_low", "funding_exhausted", "split_pending" (a split
        // without a verdict), "split_refused" (ARC refused one: its funding
        // output is marked dirty for an operator), "standby" (another
        // engine's replenisher holds the lock), "database", "starting"
        // (before the first pass).
        std::string state = "starting";
        bool ok = false;
        std::uint64_t depth = 0;
        std::int64_t funding_satoshis = 0;
        std::uint64_t funding_outputs = 0;
        double spend_per_second = 0;  // consumption, smoothed
        double runway_minutes = -1;   // pool + funding at that rate; -1: not spending
        std::uint64_t passes = 0, splits = 0, outputs = 0, failures = 0;
        std::string last_error;
    };

    // `consumed`: a monotonic count of publish UTXOs used (the engine's
    // signed jobs), read on the replenisher's thread; `log` gets one line per
    // event worth an operator's eye. Does not connect until start().
    Replenisher(std::string conninfo, ReplenishTarget target, ReplenishSettings settings,
                std::function<std::uint64_t()> consumed, std::function<void(std::string_view)> log);
    ~Replenisher();
    Replenisher(const Replenisher&) = delete;
    Replenisher& operator=(const Replenisher&) = delete;

    void start();
    void stop();  // a split transaction in flight gets up to stop_grace for its verdict
    void poke();  // a pass now
    Health health() const;
    // Whether this replenisher may still add publish UTXOs: true until the
    // first pass, then only while a pass found funding to split (or made
    // outputs, or has a split waiting for its verdict). A batch run's pool
    // closes when it is false.
    bool may_supply() const noexcept { return m_may_supply.load(std::memory_order_acquire); }
    // Before start(): where each pass reads its fee rate (ARC's policy as
    // the engine's client last read it); else the target's rate.
    void set_fee_source(std::function<chain::FeeRate()> source);

  private:
    void loop();
    void after_pass(const PassReport& r, std::chrono::steady_clock::time_point now);

    std::string m_conninfo;
    ReplenishTarget m_target;
    ReplenishSettings m_settings;
    std::function<std::uint64_t()> m_consumed;
    std::function<void(std::string_view)> m_log;
    std::optional<pg::Connection> m_conn;

    mutable std::mutex m_mu;
    std::condition_variable m_cv;
    bool m_stopping = false;
    bool m_poked = false;
    Health m_health;
    std::function<chain::FeeRate()> m_fee_source;
    std::atomic<bool> m_may_supply{true};
    std::atomic<bool> m_abort{false};
    std::thread m_thread;
};

}  // namespace raregen::service
