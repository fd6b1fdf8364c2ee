#pragma once
// Delivery of ARC status callbacks (POST to a client's X-CallbackUrl) on a
// thread of its own, so request handling and block production never wait
// on a client's server.
//
// Thread contract: enqueue() and the counters may be called from any
// thread; enqueue() only takes a mutex and never blocks on the network.
// start()/stop() belong to the owner (one thread). stop() wakes the sender,
// abandons undelivered callbacks (counted as failed) and joins; a transfer
// in flight finishes first (bounded by timeout_ms).
//
// Delivery: one attempt, then retries with a doubling backoff (capped at
// 30 s) until `attempts` have been made; only a 2xx answer counts as
// delivered. The queue is bounded (`max_pending`); a callback that does not
// fit is counted as failed rather than growing memory without bound.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace raregen::network {

struct CallbackOptions {
    std::uint32_t attempts = 10;
    std::uint32_t backoff_ms = 500;  // wait before the 2nd attempt; doubled after each
    std::uint32_t timeout_ms = 5000;
    std::size_t max_pending = 100'000;
};

struct Callback {
    std::string url;
    std::string token;  // sent as "Authorization: Bearer <token>" when not empty
    std::string body;   // JSON
};

class CallbackSender {
  public:
    explicit CallbackSender(CallbackOptions options) : m_options(options) {}
    ~CallbackSender() { stop(); }
    CallbackSender(const CallbackSender&) = delete;
    CallbackSender& operator=(const CallbackSender&) = delete;

    void start();
    void stop();
    void enqueue(Callback callback);

    std::uint64_t delivered() const { return m_delivered.load(std::memory_order_relaxed); }
    std::uint64_t failed() const { return m_failed.load(std::memory_order_relaxed); }
    std::uint64_t attempts() const { return m_attempts.load(std::memory_order_relaxed); }

  private:
    struct Pending {
        Callback callback;
        std::uint32_t attempts_made = 0;
    };
    using Clock = std::chrono::steady_clock;
    void run();

    const CallbackOptions m_options;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::multimap<Clock::time_point, Pending> m_queue;  // by due time; guarded by m_mutex
    bool m_stopping = false;                            // guarded by m_mutex
    std::thread m_thread;
    std::atomic<std::uint64_t> m_delivered{0};
    std::atomic<std::uint64_t> m_failed{0};
    std::atomic<std::uint64_t> m_attempts{0};
};

}  // namespace raregen::network
