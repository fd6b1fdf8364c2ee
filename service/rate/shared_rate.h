#pragma once
// SharedRate: one engine's side of the rate limit every engine on a database
// shares (storage/rate/rate_leases.h has the rule and the table).
//
// A thread with its own connection keeps the gate's SharedAllowance
// (stages/gate/shared_allowance.h) supplied:
//   * demand: when the jobs waiting at the gate exceed the tokens held, it
//     acquires a slice of up to `max_slice` tokens (fewer if the capacity is
//     taken; never more than 2 x max_slice unspent, so an engine whose gate
//     is stuck does not sit on the capacity) and wakes the runner; short, it
//     tries again when the earliest settled slice returns (the database says
//     when) or after `poll_short`;
//   * settle: tokens are spent oldest slice first; once the network has
//     answered for every token of a slice (the send stage's count), the
//     slice is settled and counts one more period;
//   * give back: tokens held with no demand for `idle_return` are revoked
//     from the gate and their slices shrunk, so another engine can use them;
//     so are all of them when the database is away (a slice this engine
//     cannot settle must not be spent).
// Its connection holds the engine's rate lock; after a reconnect it takes
// the lock again and drops its slices the database has that it does not
// know (an acquire whose answer was lost). A slice another engine settled
// for dead (settle or shrink finds it closed) is dropped, and the tokens
// held are revoked. stop(), after the pipeline drained (every token
// answered), settles the rest. A killed engine's slices are settled by the
// next engine that acquires once its heartbeat is stale.
//
// Threads: start(), stop() from the owner; stats() from any thread.
// Allocates on its own thread only (a service thread, not a stage).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "stages/gate/shared_allowance.h"
#include "storage/pg/connection.h"

namespace raregen::service {

struct SharedRateSettings {
    std::uint32_t capacity = 500;  // MAX_TX_PER_3S, written to the gate's row at start
    std::chrono::milliseconds period{3000};
    std::uint32_t max_slice = 0;                // tokens per slice; 0: capacity / 10 (at least 1)
    std::chrono::milliseconds poll{2};          // while slices are open or demand waits
    std::chrono::milliseconds poll_short{10};   // a short acquire with no return time
    std::chrono::milliseconds idle_return{50};  // unspent tokens with no demand go back after
    // Another engine's open slices are taken for dead after this long
    // without a heartbeat (and without its rate lock), and count `reap_grace`
    // more (storage/rate/rate_leases.h).
    std::chrono::milliseconds reap_stale{5000};
    std::chrono::milliseconds reap_grace{15000};
};

class SharedRate {
  public:
    struct Stats {
        std::uint64_t slices = 0;          // acquired
        std::uint64_t tokens = 0;          // granted in all
        std::uint64_t short_acquires = 0;  // granted fewer than wanted
        std::uint64_t given_back = 0;      // unspent tokens returned
        std::uint64_t settled = 0;         // slices settled
        std::uint64_t reaped = 0;          // dead engines' slices this engine settled
        std::uint64_t failures = 0;        // database errors
        std::uint64_t lost = 0;            // own slices another engine settled for dead
        std::uint32_t held = 0;            // tokens in open slices now
        std::string last_error;
    };

    // `answered`: jobs the network has answered for (the pipeline's count,
    // must outlive this); `wake`: makes the runner look at the gate again.
    SharedRate(std::string conninfo, std::string instance_id, SharedRateSettings settings,
               gate::SharedAllowance& allowance, const std::atomic<std::uint64_t>& answered,
               std::function<void()> wake, std::function<void(std::string_view)> log);
    ~SharedRate();
    SharedRate(const SharedRate&) = delete;
    SharedRate& operator=(const SharedRate&) = delete;

    // Connects and writes the capacity to the gate's row (a log line when it
    // changes another engine's setting); returns an error message, empty on
    // success, and then runs the thread.
    std::string start();
    void stop();
    Stats stats() const;

  private:
    struct Slice {
        std::int64_t id;
        std::uint64_t end;  // cumulative token index one past its last token
        std::uint32_t tokens;
    };
    void loop();
    bool tick(std::chrono::steady_clock::time_point now);  // false: database trouble
    bool settle_answered();
    bool give_back();  // revokes unspent tokens and shrinks the newest slices
    void failed(const std::string& what);
    bool connect(bool again);  // false: not connected (failed() was called)
    void lost_slice(std::int64_t id);

    std::string m_conninfo;
    std::string m_instance;
    SharedRateSettings m_settings;
    gate::SharedAllowance& m_allowance;
    const std::atomic<std::uint64_t>& m_answered;
    std::function<void()> m_wake;
    std::function<void(std::string_view)> m_log;

    std::optional<pg::Connection> m_conn;
    std::deque<Slice> m_slices;   // oldest first
    std::uint64_t m_granted = 0;  // tokens handed to the allowance, less those revoked
    std::chrono::steady_clock::time_point m_retry_at{};
    std::chrono::steady_clock::time_point m_idle_since{};
    bool m_idle = false;
    bool m_trim = false;  // slices beyond m_granted still to shrink in the database
    bool m_told_lost = false;

    mutable std::mutex m_mu;
    std::condition_variable m_cv;
    bool m_stopping = false;
    Stats m_stats;
    std::thread m_thread;
};

}  // namespace raregen::service
