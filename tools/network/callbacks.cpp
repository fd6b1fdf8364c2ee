#include "tools/network/callbacks.h"

#include <algorithm>
#include <utility>

#include "service/http/http_client.h"

namespace raregen::network {

using http::http_request;
using http::HttpRequest;
using http::HttpResponse;

void CallbackSender::start() {
    std::lock_guard lock(m_mutex);
    if (m_thread.joinable()) return;
    m_stopping = false;
    m_thread = std::thread([this] { run(); });
}

void CallbackSender::stop() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
    std::lock_guard lock(m_mutex);
    m_failed.fetch_add(m_queue.size(), std::memory_order_relaxed);
    m_queue.clear();
}

void CallbackSender::enqueue(Callback callback) {
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping || m_queue.size() >= m_options.max_pending) {
            m_failed.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        m_queue.emplace(Clock::now(), Pending{std::move(callback), 0});
    }
    m_cv.notify_one();
}

void CallbackSender::run() {
    std::unique_lock lock(m_mutex);
    while (!m_stopping) {
        if (m_queue.empty()) {
            m_cv.wait(lock);
            continue;
        }
        const auto due = m_queue.begin()->first;
        if (Clock::now() < due) {
            m_cv.wait_until(lock, due);
            continue;
        }
        Pending p = std::move(m_queue.begin()->second);
        m_queue.erase(m_queue.begin());
        lock.unlock();

        HttpRequest req;
        req.method = "POST";
        req.url = p.callback.url;
        req.body = p.callback.body;
        req.timeout_ms = static_cast<long>(m_options.timeout_ms);
        req.headers.push_back("Content-Type: application/json");
        if (!p.callback.token.empty())
            req.headers.push_back("Authorization: Bearer " + p.callback.token);
        const HttpResponse res = http_request(req);
        ++p.attempts_made;
        m_attempts.fetch_add(1, std::memory_order_relaxed);
        const bool ok = res.completed && res.status >= 200 && res.status < 300;

        lock.lock();
        if (ok) {
            m_delivered.fetch_add(1, std::memory_order_relaxed);
        } else if (p.attempts_made >= m_options.attempts) {
            m_failed.fetch_add(1, std::memory_order_relaxed);
        } else {
            // backoff_ms * 2^(attempts_made - 1), capped at 30 s.
            const std::uint64_t shift = std::min<std::uint32_t>(p.attempts_made - 1, 16);
            const std::uint64_t wait_ms =
                std::min<std::uint64_t>(std::uint64_t{m_options.backoff_ms} << shift, 30'000);
            m_queue.emplace(Clock::now() + std::chrono::milliseconds(wait_ms), std::move(p));
        }
    }
}

}  // namespace raregen::network
