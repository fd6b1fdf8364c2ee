// Status callbacks to a receiver the test runs itself: MINED bodies, the
// Bearer token, the batched form, full status updates and retries.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "tests/tools/network/network_test_util.h"

namespace raregen::network::test {
namespace {

// An HTTP server on a free loopback port recording every POST /cb.
class Receiver {
  public:
    explicit Receiver(int failures_first = 0) : m_failures(failures_first) {
        m_server.Post("/cb", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lock(m_mutex);
            ++m_calls;
            if (m_failures > 0) {
                --m_failures;
                res.status = 500;
                return;
            }
            m_bodies.push_back(Json::parse(req.body));
            m_auth.push_back(req.get_header_value("Authorization"));
            res.status = 200;
        });
        m_port = m_server.bind_to_any_port("127.0.0.1");
        m_thread = std::thread([this] { m_server.listen_after_bind(); });
        while (!m_server.is_running())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~Receiver() {
        m_server.stop();
        m_thread.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port) + "/cb"; }

    // Waits (generously) until `n` callbacks were accepted; returns them.
    std::vector<Json> wait_for(std::size_t n) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (std::chrono::steady_clock::now() < deadline) {
            {
                std::lock_guard lock(m_mutex);
                if (m_bodies.size() >= n) return m_bodies;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        std::lock_guard lock(m_mutex);
        return m_bodies;
    }
    std::vector<std::string> auth() {
        std::lock_guard lock(m_mutex);
        return m_auth;
    }
    int calls() {
        std::lock_guard lock(m_mutex);
        return m_calls;
    }

  private:
    httplib::Server m_server;
    std::thread m_thread;
    int m_port = 0;
    std::mutex m_mutex;
    int m_failures;
    int m_calls = 0;
    std::vector<Json> m_bodies;
    std::vector<std::string> m_auth;
};

TEST(ArcCallbacks, MinedCallbackCarriesTokenAndBlock) {
    Receiver rx;
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx tx = publication(w, utxos[0]);
    ASSERT_EQ(post(t.url + "/v1/tx", bin(tx.ef), k_bin,
                   {"X-CallbackUrl: " + rx.url(), "X-CallbackToken: tok-1"})
                  .status,
              200);
    const std::uint64_t height = t.net->mine_block();
    const auto got = rx.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]["txid"], tx.txid);
    EXPECT_EQ(got[0]["txStatus"], "MINED");
    EXPECT_EQ(got[0]["blockHeight"], height);
    EXPECT_EQ(got[0]["blockHash"].get<std::string>().size(), 64u);
    EXPECT_TRUE(got[0].contains("timestamp"));
    EXPECT_TRUE(got[0].contains("merklePath"));
    EXPECT_TRUE(got[0].contains("competingTxs"));
    EXPECT_EQ(rx.auth()[0], "Bearer tok-1");
}

TEST(ArcCallbacks, BatchedCallbacksArriveAsOnePost) {
    Receiver rx;
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 3);
    std::string body;
    for (const auto& u : utxos)
        body += bin(publication(w, u).ef);
    ASSERT_EQ(post(t.url + "/v1/txs", body, k_bin,
                   {"X-CallbackUrl: " + rx.url(), "X-CallbackToken: b", "X-CallbackBatch: true"})
                  .status,
              200);
    t.net->mine_block();
    const auto got = rx.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]["count"], 3);
    ASSERT_EQ(got[0]["callbacks"].size(), 3u);
    for (const Json& c : got[0]["callbacks"])
        EXPECT_EQ(c["txStatus"], "MINED");
}

TEST(ArcCallbacks, FullStatusUpdatesAlsoSendSeen) {
    Receiver rx;
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx tx = publication(w, utxos[0]);
    ASSERT_EQ(post(t.url + "/v1/tx", bin(tx.ef), k_bin,
                   {"X-CallbackUrl: " + rx.url(), "X-FullStatusUpdates: true"})
                  .status,
              200);
    auto got = rx.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]["txStatus"], "SEEN_ON_NETWORK");
    t.net->mine_block();
    got = rx.wait_for(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1]["txStatus"], "MINED");
    EXPECT_EQ(rx.auth()[0], "");  // no token given: no Authorization header
}

TEST(ArcCallbacks, FailedDeliveriesAreRetried) {
    Receiver rx(/*failures_first=*/2);
    TestNet t;  // backoff 10 ms in tests
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    ASSERT_EQ(post(t.url + "/v1/tx", bin(publication(w, utxos[0]).ef), k_bin,
                   {"X-CallbackUrl: " + rx.url()})
                  .status,
              200);
    t.net->mine_block();
    ASSERT_EQ(rx.wait_for(1).size(), 1u);
    EXPECT_EQ(rx.calls(), 3);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (t.net->stats()["callbacks"]["delivered"] != 1 &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const Json stats = t.net->stats();
    EXPECT_EQ(stats["callbacks"]["delivered"], 1);
    EXPECT_EQ(stats["callbacks"]["attempts"], 3);
    EXPECT_EQ(stats["callbacks"]["failed"], 0);
}

TEST(ArcCallbacks, BlockTimerMinesOnItsOwn) {
    NetworkOptions o = test_options();
    o.block_interval_ms = 20;
    TestNet t(o);
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx tx = publication(w, utxos[0]);
    ASSERT_EQ(post(t.url + "/v1/tx", bin(tx.ef), k_bin).status, 200);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::string status;
    while (status != "MINED" && std::chrono::steady_clock::now() < deadline) {
        status = parse(get(t.url + "/v1/tx/" + tx.txid))["txStatus"];
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(status, "MINED");
}

}  // namespace
}  // namespace raregen::network::test
