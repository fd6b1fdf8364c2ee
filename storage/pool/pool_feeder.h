#pragma once
// PoolFeeder: keeps an engine's UtxoRing topped up with publish UTXOs leased
// from the shared `utxos` table (utxo_pool.h), on a thread of its own.
//
// What it does, in a loop:
//   * whenever the ring has room for a chunk (free_slots() >= chunk), leases
//     min(free_slots(), chunk) rows and pushes them. It never leases more than
//     the ring has room for, so nothing leased is ever held back outside the
//     ring; then it calls on_refill (the engine wires it to RunContext::wake,
//     so a sign stage blocked on an empty ring resumes at once);
//   * renews this instance's leases every lease_duration / 3;
//   * with close_when_empty, when a lease returns nothing and the table holds
//     no leasable row at all, closes the ring: jobs beyond the supply then fail
//     instead of waiting (batch runs). Rows other engines are leasing at that
//     moment do not count as "none" (the table is checked without locks);
//   * on a database error, drops the connection, reports healthy() == false,
//     and reconnects with exponential backoff (reconnect_min .. reconnect_max);
//     leases held meanwhile are renewed once it is back (keep the backoff well
//     under lease_duration / 3 for that reason: reconnect_max is capped there).
// It sleeps poll_interval between looks at the ring (poke() cuts a sleep short).
// The scheduling reads std::chrono::steady_clock: this is a service thread
// pacing round trips, not a stage; the leases themselves are timed by the
// server's now().
//
// Threads:
//   * The feeder thread is the ring's ONE producer from start() to stop();
//     nothing else may push meanwhile.
//   * start(), stop() and the destructor: one owner thread.
//   * healthy(), last_error(), the counters and poke(): any thread.
//   * on_refill runs on the feeder thread; it must be cheap and must not
//     call back into the feeder.
//   * stop() PRECONDITION: the ring's consumer (the sign stage) has stopped
//     and will not pop again, and its last pop happens-before stop() (e.g. the
//     runner thread was joined). stop() joins the feeder thread, then takes
//     the consumer role itself: it pops every UTXO left in the ring, releases
//     them in the database (back to 'available'), and closes the ring.
//
// Memory: the feeder allocates freely (lease results, SQL text); it is off
// the hot path. The ring push is the ring's own non-allocating try_push_bulk.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "engine/model/utxo_ring.h"
#include "storage/pg/connection.h"
#include "storage/pool/utxo_pool.h"

namespace raregen::pool {

struct PoolFeederOptions {
    // The leasing engine's id (utxos.leased_by). Required.
    std::string instance_id;
    std::chrono::milliseconds lease_duration{std::chrono::minutes(5)};
    // UTXOs per lease; 0: min(1000, max(1, capacity / 4)). Capped at the
    // ring's capacity.
    std::size_t chunk = 0;
    std::chrono::milliseconds poll_interval{100};
    // Close the ring once the table has no leasable UTXO left (batch runs).
    bool close_when_empty = false;
    // With close_when_empty: asked (on the feeder thread) before closing;
    // true keeps the ring open because more UTXOs can still come (a
    // replenisher with funding left). May be empty.
    std::function<bool()> may_refill;
    // Only UTXOs of exactly this value are leased (see lease_utxos).
    std::int64_t publish_value = k_publish_value;
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{std::chrono::seconds(5)};
    // Called on the feeder thread after UTXOs were pushed (and after the ring
    // was closed, so a waiting consumer notices). May be empty.
    std::function<void()> on_refill;
    pg::ConnectOptions connect;
};

struct FeederStopReport {
    std::uint64_t left_in_ring = 0;  // UTXOs popped from the ring by stop()
    std::uint64_t released = 0;      // rows set back to 'available'
    // Failure to release (the rows stay reserved under the instance id until
    // it is reclaimed); ok otherwise.
    pg::Status status;
};

class PoolFeeder {
  public:
    // Nothing runs until start(). Throws std::invalid_argument (start-up) if
    // instance_id is empty or lease_duration is under 3 ms. Does not connect.
    PoolFeeder(std::string conninfo, utxo::UtxoRing& ring, PoolFeederOptions options);
    PoolFeeder(const PoolFeeder&) = delete;
    PoolFeeder& operator=(const PoolFeeder&) = delete;
    // Calls stop() if still running (its precondition applies).
    ~PoolFeeder();

    // Starts the thread. It connects on its own (failures are retried and
    // reported through healthy()/last_error()). Call once.
    void start();
    // See the contract above. Idempotent; returns the first call's report.
    FeederStopReport stop();

    // False until the first successful round trip, and while the database is
    // unreachable or refusing statements.
    bool healthy() const noexcept { return m_healthy.load(std::memory_order_acquire); }
    // The last database error (scrubbed of secrets); empty if none yet.
    std::string last_error() const;
    // Ask the thread to look at the ring now instead of after its sleep.
    void poke();

    std::size_t chunk() const noexcept { return m_chunk; }
    // UTXOs leased and pushed into the ring so far.
    std::uint64_t leased() const noexcept { return m_leased.load(std::memory_order_acquire); }
    // Passes of the loop completed (each one looked at the ring once).
    std::uint64_t cycles() const noexcept { return m_cycles.load(std::memory_order_acquire); }
    std::uint64_t renewals() const noexcept { return m_renewals.load(std::memory_order_acquire); }
    // Successful connections after the first.
    std::uint64_t reconnects() const noexcept {
        return m_reconnects.load(std::memory_order_acquire);
    }

  private:
    void run();
    // One pass; returns false after a database error (connection dropped).
    bool fill_and_renew(std::chrono::steady_clock::time_point& next_renew);
    void set_error(const pg::Status& st);
    // Sleeps up to `d` or until stop()/poke(); returns false once stopping.
    bool sleep_for(std::chrono::milliseconds d);

    const std::string m_conninfo;
    utxo::UtxoRing& m_ring;
    const PoolFeederOptions m_options;
    const std::size_t m_chunk;

    std::optional<pg::Connection> m_conn;  // feeder thread only (stop() after the join)
    std::thread m_thread;
    bool m_started = false;
    bool m_stopped = false;
    FeederStopReport m_stop_report;

    mutable std::mutex m_mutex;  // guards m_stop_requested, m_poked, m_last_error
    std::condition_variable m_cv;
    bool m_stop_requested = false;
    bool m_poked = false;
    std::string m_last_error;

    std::atomic<bool> m_healthy{false};
    std::atomic<std::uint64_t> m_leased{0};
    std::atomic<std::uint64_t> m_cycles{0};
    std::atomic<std::uint64_t> m_renewals{0};
    std::atomic<std::uint64_t> m_reconnects{0};
};

}  // namespace raregen::pool
