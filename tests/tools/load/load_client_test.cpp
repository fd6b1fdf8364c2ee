// The load client against a scripted API on loopback (cpp-httplib): what it
// retries (503 after Retry-After, other 5xx, per-item 503s of a batch), what
// it takes as final (202, 200, 4xx with the API's code), that every intent
// is sent until it has a verdict and never after, and its option checks.

#include "tools/load/load_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace raregen::load {
namespace {

using Json = nlohmann::json;

// A server answering each intent (by its "id" member) from a script: the
// n-th time an id is seen, the n-th status of its script (the last repeats).
class ScriptedApi {
  public:
    explicit ScriptedApi(std::map<std::string, std::vector<int>> script)
        : m_script(std::move(script)) {
        m_server.Post("/v1/publish", [this](const httplib::Request& req, httplib::Response& res) {
            const Json item = Json::parse(req.body);
            const int status = next(item.at("id"));
            res.status = status;
            if (status == 503) res.set_header("Retry-After", "0");
            res.set_content(body(item, status).dump(), "application/json");
        });
        m_server.Post("/v1/publish/batch", [this](const httplib::Request& req,
                                                  httplib::Response& res) {
            ++m_batches;
            Json results = Json::array();
            for (const Json& item : Json::parse(req.body)) {
                Json b = body(item, next(item.at("id")));
                b["httpStatus"] = b.value("status_", 0);
                b.erase("status_");
                results.push_back(b);
            }
            res.set_content(Json{{"ok", true}, {"results", results}}.dump(), "application/json");
        });
        m_port = m_server.bind_to_any_port("127.0.0.1");
        m_thread = std::thread([this] { m_server.listen_after_bind(); });
        // One request before any concurrent ones: the server library's lazy
        // one-time set-up (function-local statics in Debian's uninstrumented
        // libcpp-httplib) runs on one worker, which ThreadSanitizer otherwise
        // reports as a race between the first concurrent workers.
        while (!m_server.is_running())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        httplib::Client(url()).Get("/ready");
    }
    ~ScriptedApi() {
        m_server.stop();
        m_thread.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
    int seen(const std::string& id) {
        std::lock_guard lock(m_mu);
        return m_seen[id];
    }
    int batches() const { return m_batches.load(); }

  private:
    int next(const std::string& id) {
        std::lock_guard lock(m_mu);
        const std::vector<int>& s = m_script.at(id);
        const int n = m_seen[id]++;
        return s[std::min<std::size_t>(static_cast<std::size_t>(n), s.size() - 1)];
    }
    static Json body(const Json& item, int status) {
        const std::string id = item.at("id");
        Json b;
        if (status == 202 || status == 200)
            b = {{"ok", true},
                 {"jobId", std::string("job-").append(id)},
                 {"recordId", id},
                 {"status", "queued"}};
        else
            b = {{"ok", false},
                 {"error", std::string("scripted ").append(std::to_string(status))},
                 {"code", status == 400 ? "bad_signature" : "unavailable"}};
        b["status_"] = status;
        return b;
    }

    std::map<std::string, std::vector<int>> m_script;
    std::map<std::string, int> m_seen;
    std::mutex m_mu;
    std::atomic<int> m_batches{0};
    httplib::Server m_server;
    int m_port = 0;
    std::thread m_thread;
};

std::vector<std::string> intents(const std::vector<std::string>& ids) {
    std::vector<std::string> out;
    for (const std::string& id : ids)
        out.push_back(Json{{"id", id}}.dump());
    return out;
}

LoadOptions options(const ScriptedApi& api, std::size_t batch) {
    LoadOptions o;
    o.url = api.url();
    o.connections = 3;
    o.batch = batch;
    o.attempts = 5;
    o.max_retry_wait = std::chrono::milliseconds(20);
    return o;
}

TEST(LoadClient, RetriesWhatHasNoVerdictAndStopsAtTheFirstVerdict) {
    for (const std::size_t batch : {std::size_t{1}, std::size_t{2}}) {
        ScriptedApi api({{"a", {202}},
                         {"b", {503, 503, 202}},
                         {"c", {500, 200}},
                         {"d", {400}},
                         {"e", {503}}});  // never a verdict
        std::string error;
        const LoadResult r =
            run_load(intents({"a", "b", "c", "d", "e"}), options(api, batch), error);
        ASSERT_EQ(error, "");
        ASSERT_EQ(r.answers.size(), 5u);
        EXPECT_EQ(r.answers[0].status, 202);
        EXPECT_EQ(r.answers[0].job_id, "job-a");
        EXPECT_EQ(r.answers[1].status, 202);
        EXPECT_EQ(r.answers[1].attempts, 3u);
        EXPECT_EQ(r.answers[3].status, 400);
        EXPECT_EQ(r.answers[3].code, "bad_signature");
        EXPECT_EQ(r.answers[4].status, 0);
        EXPECT_EQ(r.answers[4].attempts, 5u);
        EXPECT_EQ(r.accepted, 2u);
        EXPECT_EQ(r.refused, 1u);
        EXPECT_EQ(r.refused_by_code.at("bad_signature"), 1u);
        EXPECT_EQ(r.unanswered, 1u);
        // Each intent sent until its verdict, never after.
        EXPECT_EQ(api.seen("a"), 1);
        EXPECT_EQ(api.seen("b"), 3);
        EXPECT_EQ(api.seen("d"), 1);
        EXPECT_EQ(api.seen("e"), 5);
        if (batch == 1) {
            // A whole-request 500 is retried; then the 200 is final.
            EXPECT_EQ(r.answers[2].status, 200);
            EXPECT_EQ(r.existing, 1u);
            EXPECT_EQ(api.seen("c"), 2);
            EXPECT_EQ(api.batches(), 0);
        } else {
            // In a batch, an item's 500 is no verdict either.
            EXPECT_EQ(r.answers[2].status, 200);
            EXPECT_GT(api.batches(), 0);
        }
    }
}

TEST(LoadClient, EveryIntentOfALargeRunIsAnsweredOnce) {
    std::map<std::string, std::vector<int>> script;
    std::vector<std::string> ids;
    for (int i = 0; i < 500; ++i) {
        ids.push_back(std::string("i").append(std::to_string(i)));
        script[ids.back()] = i % 7 == 0 ? std::vector<int>{503, 202} : std::vector<int>{202};
    }
    ScriptedApi api(script);
    LoadOptions o = options(api, 1);
    o.connections = 16;
    std::string error;
    const LoadResult r = run_load(intents(ids), o, error);
    ASSERT_EQ(error, "");
    EXPECT_EQ(r.accepted, 500u);
    EXPECT_EQ(r.retried_unavailable, 72u);  // i = 0, 7, ..., 497
    for (std::size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(r.answers[i].job_id, std::string("job-").append(ids[i]));
        EXPECT_EQ(api.seen(ids[i]), i % 7 == 0 ? 2 : 1);
    }
    EXPECT_GT(r.latency_p99_ms, 0.0);
}

TEST(LoadClient, NoServerMeansNoVerdictAfterEveryAttempt) {
    // A port nobody answers on (bound and never served: a connection is
    // refused or hangs; either way no answer within the timeout).
    int port = 0;
    {
        httplib::Server s;
        port = s.bind_to_any_port("127.0.0.1");
    }
    LoadOptions o;
    o.url = "http://127.0.0.1:" + std::to_string(port);
    o.attempts = 2;
    o.timeout = std::chrono::milliseconds(300);
    o.max_retry_wait = std::chrono::milliseconds(5);
    std::string error;
    const LoadResult r = run_load(intents({"x"}), o, error);
    ASSERT_EQ(error, "");
    EXPECT_EQ(r.unanswered, 1u);
    EXPECT_EQ(r.answers[0].attempts, 2u);
    EXPECT_NE(r.answers[0].error.find("no answer"), std::string::npos) << r.answers[0].error;
}

TEST(LoadClient, BadOptionsAreRefusedBeforeAnythingIsSent) {
    std::string error;
    LoadOptions o;
    o.url = "https://example.org";
    run_load(intents({"x"}), o, error);
    EXPECT_NE(error.find("http://HOST:PORT"), std::string::npos);
    o.url = "http://127.0.0.1:1/v1";
    run_load(intents({"x"}), o, error);
    EXPECT_NE(error.find("no path"), std::string::npos);
    o.url = "http://127.0.0.1:1";
    o.connections = 0;
    run_load(intents({"x"}), o, error);
    EXPECT_NE(error.find("at least 1"), std::string::npos);
}

}  // namespace
}  // namespace raregen::load
