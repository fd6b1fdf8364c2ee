#include "tools/load/load_client.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

namespace raregen::load {

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Shared {
    Shared(const std::vector<std::string>& i, const LoadOptions& opts, std::vector<Answer>& a)
        : intents(i), o(opts), answers(a) {}
    const std::vector<std::string>& intents;
    const LoadOptions& o;
    std::vector<Answer>& answers;
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> answered{0};
    std::atomic<std::size_t> retried_unavailable{0};
    std::atomic<std::size_t> retried_no_answer{0};
    std::atomic<std::size_t> requests{0};
    std::mutex progress_mu;
    Clock::time_point last_progress = Clock::now();
};

// Fills an answer from a final verdict's body (202/200 with a job, or a
// refusal with code and error).
void read_verdict(int status, const Json& body, Answer& a) {
    a.status = status;
    if (!body.is_object()) return;
    if (auto it = body.find("jobId"); it != body.end() && it->is_string()) a.job_id = *it;
    if (auto it = body.find("recordId"); it != body.end() && it->is_string()) a.record_id = *it;
    if (auto it = body.find("code"); it != body.end() && it->is_string()) a.code = *it;
    if (auto it = body.find("error"); it != body.end() && it->is_string()) a.error = *it;
}

Json parse_or_null(const std::string& text) {
    Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? Json() : j;
}

class Worker {
  public:
    explicit Worker(Shared& s, unsigned seed) : s_(s), cli_(s.o.url), rng_(seed) {
        cli_.set_keep_alive(true);
        cli_.set_tcp_nodelay(true);
        const auto t = s.o.timeout;
        const auto sec = std::chrono::duration_cast<std::chrono::seconds>(t);
        const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(t - sec);
        cli_.set_connection_timeout(sec.count(), usec.count());
        cli_.set_read_timeout(sec.count(), usec.count());
        cli_.set_write_timeout(sec.count(), usec.count());
    }

    void run() {
        const std::size_t n = s_.intents.size();
        const std::size_t batch = std::max<std::size_t>(1, s_.o.batch);
        for (;;) {
            const std::size_t first = s_.next.fetch_add(batch, std::memory_order_relaxed);
            if (first >= n) return;
            const std::size_t last = std::min(n, first + batch);
            if (batch == 1)
                post_one(first);
            else
                post_batch(first, last);
            report_progress();
        }
    }

  private:
    // Exponential backoff with full jitter, capped.
    void back_off(std::size_t attempt) {
        const double cap = static_cast<double>(s_.o.max_retry_wait.count());
        const double ceiling = std::min(cap, 50.0 * std::pow(2.0, static_cast<double>(attempt)));
        std::uniform_real_distribution<double> d(0.0, ceiling);
        std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(d(rng_)));
    }

    void wait_retry_after(const httplib::Response& r) {
        long seconds = 1;
        if (r.has_header("Retry-After")) {
            const std::string v = r.get_header_value("Retry-After");
            char* end = nullptr;
            const long parsed = std::strtol(v.c_str(), &end, 10);
            if (end != v.c_str() && parsed >= 0) seconds = parsed;
        }
        const auto wait =
            std::min<std::chrono::milliseconds>(std::chrono::seconds(seconds), s_.o.max_retry_wait);
        std::this_thread::sleep_for(wait);
    }

    void post_one(std::size_t i) {
        Answer& a = s_.answers[i];
        const Clock::time_point t0 = Clock::now();
        for (std::size_t attempt = 1; attempt <= s_.o.attempts; ++attempt) {
            a.attempts = attempt;
            s_.requests.fetch_add(1, std::memory_order_relaxed);
            auto res = cli_.Post("/v1/publish", s_.intents[i], "application/json");
            if (!res) {
                a.error = "no answer: " + httplib::to_string(res.error());
                if (attempt < s_.o.attempts) {
                    s_.retried_no_answer.fetch_add(1, std::memory_order_relaxed);
                    back_off(attempt);
                }
                continue;
            }
            if (res->status == 503) {
                read_verdict(0, parse_or_null(res->body), a);
                if (attempt < s_.o.attempts) {
                    s_.retried_unavailable.fetch_add(1, std::memory_order_relaxed);
                    wait_retry_after(*res);
                }
                continue;
            }
            if (res->status >= 500) {
                a.error = "HTTP " + std::to_string(res->status);
                if (attempt < s_.o.attempts) {
                    s_.retried_no_answer.fetch_add(1, std::memory_order_relaxed);
                    back_off(attempt);
                }
                continue;
            }
            a.code.clear();
            a.error.clear();
            read_verdict(res->status, parse_or_null(res->body), a);
            break;
        }
        a.latency_ms = ms_since(t0);
        s_.answered.fetch_add(1, std::memory_order_relaxed);
    }

    void post_batch(std::size_t first, std::size_t last) {
        std::vector<std::size_t> pending;
        for (std::size_t i = first; i < last; ++i)
            pending.push_back(i);
        const Clock::time_point t0 = Clock::now();
        for (std::size_t attempt = 1; attempt <= s_.o.attempts && !pending.empty(); ++attempt) {
            std::string body = "[";
            for (std::size_t k = 0; k < pending.size(); ++k) {
                if (k > 0) body.push_back(',');
                body += s_.intents[pending[k]];
                s_.answers[pending[k]].attempts = attempt;
            }
            body.push_back(']');
            s_.requests.fetch_add(1, std::memory_order_relaxed);
            const bool more = attempt < s_.o.attempts;
            auto res = cli_.Post("/v1/publish/batch", body, "application/json");
            if (!res || res->status >= 500) {
                const std::string why = !res ? "no answer: " + httplib::to_string(res.error())
                                             : "HTTP " + std::to_string(res->status);
                for (std::size_t i : pending)
                    s_.answers[i].error = why;
                if (more) {
                    (res && res->status == 503 ? s_.retried_unavailable : s_.retried_no_answer)
                        .fetch_add(pending.size(), std::memory_order_relaxed);
                    if (res && res->status == 503)
                        wait_retry_after(*res);
                    else
                        back_off(attempt);
                }
                continue;
            }
            const Json j = parse_or_null(res->body);
            const Json* results = nullptr;
            if (res->status == 200 && j.is_object())
                if (auto it = j.find("results");
                    it != j.end() && it->is_array() && it->size() == pending.size())
                    results = &*it;
            if (results == nullptr) {
                // The whole request refused (413, 415, 400): a verdict on
                // every item in it.
                for (std::size_t i : pending)
                    read_verdict(res->status == 200 ? 502 : res->status, j, s_.answers[i]);
                pending.clear();
                break;
            }
            std::vector<std::size_t> again;
            for (std::size_t k = 0; k < pending.size(); ++k) {
                const Json& item = (*results)[k];
                const int status = item.is_object() ? item.value("httpStatus", 0) : 0;
                Answer& a = s_.answers[pending[k]];
                if (status >= 500 || status == 0) {
                    read_verdict(0, item, a);
                    again.push_back(pending[k]);
                    continue;
                }
                a.code.clear();
                a.error.clear();
                read_verdict(status, item, a);
                a.latency_ms = ms_since(t0);
            }
            if (!again.empty() && more) {
                s_.retried_unavailable.fetch_add(again.size(), std::memory_order_relaxed);
                std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
                    std::chrono::seconds(1), s_.o.max_retry_wait));
            }
            pending = std::move(again);
        }
        for (std::size_t i : pending)
            s_.answers[i].latency_ms = ms_since(t0);
        s_.answered.fetch_add(last - first, std::memory_order_relaxed);
    }

    void report_progress() {
        if (!s_.o.progress) return;
        std::unique_lock lock(s_.progress_mu, std::try_to_lock);
        if (!lock.owns_lock()) return;
        if (Clock::now() - s_.last_progress < std::chrono::seconds(1)) return;
        s_.last_progress = Clock::now();
        s_.o.progress(s_.answered.load(std::memory_order_relaxed), s_.intents.size());
    }

    Shared& s_;
    httplib::Client cli_;
    std::mt19937_64 rng_;
};

}  // namespace

LoadResult run_load(const std::vector<std::string>& intents, const LoadOptions& o,
                    std::string& error) {
    LoadResult r;
    error.clear();
    if (o.url.rfind("http://", 0) != 0 || o.url.size() <= 7 ||
        o.url.find('/', 7) != std::string::npos)
        error = "the URL '" + o.url + "' must be http://HOST:PORT (no path; https is not served)";
    else if (o.connections == 0 || o.batch == 0 || o.attempts == 0)
        error = "connections, batch and attempts must each be at least 1";
    else if (o.timeout.count() <= 0)
        error = "the request timeout must be positive";
    if (!error.empty()) return r;

    r.answers.resize(intents.size());
    Shared s(intents, o, r.answers);
    {
        // One request before the workers start (GET /health, which the API
        // and the old service both serve; its answer does not matter): the
        // HTTP library's lazy one-time set-up runs on this thread, not in
        // the first concurrent requests (which ThreadSanitizer reports as a
        // race inside the uninstrumented library).
        httplib::Client probe(o.url);
        const auto t = std::min<std::chrono::milliseconds>(o.timeout, std::chrono::seconds(2));
        const auto sec = std::chrono::duration_cast<std::chrono::seconds>(t);
        const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(t - sec);
        probe.set_connection_timeout(sec.count(), usec.count());
        probe.set_read_timeout(sec.count(), usec.count());
        probe.Get("/health");
    }
    const std::size_t groups = (intents.size() + o.batch - 1) / o.batch;
    const std::size_t threads = std::max<std::size_t>(1, std::min(o.connections, groups));
    const Clock::time_point t0 = Clock::now();
    {
        std::vector<std::jthread> pool;
        pool.reserve(threads);
        std::random_device seed;
        for (std::size_t t = 0; t < threads; ++t) {
            const unsigned worker_seed = seed();
            pool.emplace_back([&s, worker_seed] { Worker(s, worker_seed).run(); });
        }
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    r.retried_unavailable = s.retried_unavailable.load();
    r.retried_no_answer = s.retried_no_answer.load();
    r.requests = s.requests.load();

    std::vector<double> latencies;
    latencies.reserve(intents.size());
    for (const Answer& a : r.answers) {
        if (a.status == 202 || a.status == 200) {
            (a.status == 202 ? r.accepted : r.existing)++;
            latencies.push_back(a.latency_ms);
        } else if (a.status >= 400 && a.status < 500) {
            ++r.refused;
            ++r.refused_by_code[a.code.empty() ? "http_" + std::to_string(a.status) : a.code];
        } else {
            ++r.unanswered;
        }
    }
    if (!latencies.empty()) {
        std::sort(latencies.begin(), latencies.end());
        auto at = [&](double q) {
            const auto k = static_cast<std::size_t>(q * static_cast<double>(latencies.size() - 1));
            return latencies[k];
        };
        r.latency_p50_ms = at(0.50);
        r.latency_p99_ms = at(0.99);
        r.latency_max_ms = latencies.back();
    }
    return r;
}

}  // namespace raregen::load
