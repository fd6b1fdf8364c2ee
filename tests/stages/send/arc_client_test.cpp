#include "stages/send/arc_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/chain/tx.h"

namespace raregen::send {
namespace {

using namespace std::chrono_literals;

// Fake transactions: 48 bytes each, the first 32 being the txid in internal
// order, so the scripted server can split a body and name each tx. The
// client only needs ef bytes and txid.
constexpr std::size_t k_fake_tx = 48;

model::Job make_job(std::uint32_t n, std::uint64_t ticket = 1) {
    model::Job j;
    j.intake_seq = n;
    for (std::size_t k = 0; k < j.txid.size(); ++k)
        j.txid[k] = static_cast<std::uint8_t>((n * 131u + k * 17u + (k == 0 ? n : 0)) & 0xff);
    j.txid[1] = static_cast<std::uint8_t>(n >> 8);
    j.txid[2] = static_cast<std::uint8_t>(n);
    std::array<std::uint8_t, k_fake_tx> ef{};
    std::copy(j.txid.begin(), j.txid.end(), ef.begin());
    for (std::size_t k = 32; k < ef.size(); ++k)
        ef[k] = static_cast<std::uint8_t>(n + k);
    j.ef.assign(ef);
    j.raw.assign(chain::ByteSpan(ef.data(), 40));
    j.signed_ticket = ticket;
    return j;
}

std::string display(const model::Job& j) {
    return chain::hash_to_display(j.txid);
}

std::vector<std::string> txids_in(const std::string& body) {
    std::vector<std::string> out;
    for (std::size_t off = 0; off + k_fake_tx <= body.size(); off += k_fake_tx) {
        chain::Hash256 h{};
        std::memcpy(h.data(), body.data() + off, h.size());
        out.push_back(chain::hash_to_display(h));
    }
    return out;
}

std::string ok_entry(const std::string& txid, const std::string& tx_status = "SEEN_ON_NETWORK") {
    return R"({"blockHash":"","blockHeight":0,"extraInfo":"","status":200,"timestamp":"2026-01-01T00:00:00Z","title":"OK","txStatus":")" +
           tx_status + R"(","txid":")" + txid + R"(","merklePath":""})";
}

std::string error_entry(const std::string& txid, int status, const std::string& title,
                        const std::string& detail) {
    std::string s = R"({"detail":")" + detail + R"(","extraInfo":"","instance":null,"status":)" +
                    std::to_string(status) + R"(,"title":")" + title + "\"";
    if (!txid.empty()) s += R"(,"txid":")" + txid + "\"";
    return s + R"(,"type":"https://bitcoin-sv.github.io/arc/#/errors?id=_)" +
           std::to_string(status) + "\"}";
}

std::string array_of(std::vector<std::string> entries) {
    std::string s = "[";
    for (std::size_t i = 0; i < entries.size(); ++i)
        s += (i ? "," : "") + entries[i];
    return s + "]";
}

struct Seen {
    std::string method, path, body;
    httplib::Headers headers;
};

// ARC as the tests script it, on 127.0.0.1 with an ephemeral port.
class FakeArc {
  public:
    using TxsHandler = std::function<void(int call, const std::vector<std::string>& txids,
                                          httplib::Response& res)>;
    using TxHandler = std::function<void(const std::string& txid, httplib::Response& res)>;

    FakeArc() {
        m_server.set_keep_alive_timeout(1);
        m_server.Get("/v1/policy", [this](const httplib::Request& req, httplib::Response& res) {
            record(req);
            if (policy_status != 200) {
                res.status = policy_status;
                res.set_content(error_entry("", policy_status, "Unauthorized", "no"),
                                "application/json");
                return;
            }
            res.set_content(
                R"({"timestamp":"2026-01-01T00:00:00Z","policy":{"maxscriptsizepolicy":500000,"maxtxsigopscountspolicy":4294967295,"maxtxsizepolicy":10000000,"miningFee":{"satoshis":)" +
                    std::to_string(policy_sats.load()) + R"(,"bytes":1000}}})",
                "application/json");
        });
        m_server.Post("/v1/txs", [this](const httplib::Request& req, httplib::Response& res) {
            const int call = record(req);
            const auto ids = txids_in(req.body);
            if (on_txs) {
                on_txs(call, ids, res);
                return;
            }
            std::vector<std::string> entries;
            for (const auto& id : ids)
                entries.push_back(ok_entry(id));
            res.set_content(array_of(entries), "application/json");
        });
        m_server.Get(R"(/v1/tx/([0-9a-f]{64}))",
                     [this](const httplib::Request& req, httplib::Response& res) {
                         record(req);
                         on_tx(req.matches[1].str(), res);
                     });
        m_port = m_server.bind_to_any_port("127.0.0.1");
        if (m_port <= 0) throw std::runtime_error("cannot bind a loopback port");
        m_thread = std::thread([this] { m_server.listen_after_bind(); });
    }
    ~FakeArc() {
        m_server.stop();
        m_thread.join();
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

    std::vector<Seen> seen(const std::string& path) {
        std::lock_guard lock(m_mutex);
        std::vector<Seen> out;
        for (const auto& s : m_seen)
            if (s.path.rfind(path, 0) == 0) out.push_back(s);
        return out;
    }

    TxsHandler on_txs;  // set before the client starts
    TxHandler on_tx = [](const std::string&, httplib::Response& res) {
        res.status = 404;
        res.set_content(error_entry("", 404, "Not found", "unknown tx"), "application/json");
    };
    std::atomic<int> policy_sats{100};
    std::atomic<int> policy_status{200};

  private:
    int record(const httplib::Request& req) {
        std::lock_guard lock(m_mutex);
        m_seen.push_back({req.method, req.path, req.body, req.headers});
        int n = 0;
        for (const auto& s : m_seen)
            n += s.path == req.path ? 1 : 0;
        return n;  // 1 for the first request on this path
    }

    httplib::Server m_server;
    int m_port = 0;
    std::thread m_thread;
    std::mutex m_mutex;
    std::vector<Seen> m_seen;
};

// A bare TCP server that answers GET /v1/policy and then misbehaves on
// everything else: closes the connection unanswered, or never answers.
class BrokenArc {
  public:
    enum class Mode { close, hang };
    explicit BrokenArc(Mode mode) : m_mode(mode) {
        m_listen = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(m_listen, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
            ::listen(m_listen, 64) != 0 ||
            ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&a), &len) != 0)
            throw std::runtime_error("cannot listen on loopback");
        m_port = ntohs(a.sin_port);
        m_thread = std::thread([this] { serve(); });
    }
    ~BrokenArc() {
        m_stop = true;
        m_thread.join();
        for (int fd : m_held)
            ::close(fd);
        ::close(m_listen);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
    int posts() const { return m_posts.load(); }

  private:
    void serve() {
        while (!m_stop) {
            pollfd p{m_listen, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            const int fd = ::accept(m_listen, nullptr, nullptr);
            if (fd < 0) continue;
            std::string head;
            char buf[4096];
            while (head.find("\r\n\r\n") == std::string::npos) {
                pollfd q{fd, POLLIN, 0};
                if (::poll(&q, 1, 2000) <= 0) break;
                const ssize_t n = ::read(fd, buf, sizeof buf);
                if (n <= 0) break;
                head.append(buf, static_cast<std::size_t>(n));
            }
            if (head.rfind("GET /v1/policy", 0) == 0) {
                const std::string body =
                    R"({"timestamp":"2026-01-01T00:00:00Z","policy":{"maxscriptsizepolicy":1,"maxtxsigopscountspolicy":1,"maxtxsizepolicy":1,"miningFee":{"satoshis":100,"bytes":1000}}})";
                const std::string res =
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    "Connection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
                [[maybe_unused]] const ssize_t w = ::write(fd, res.data(), res.size());
                ::close(fd);
                continue;
            }
            ++m_posts;
            if (m_mode == Mode::close)
                ::close(fd);
            else
                m_held.push_back(fd);
        }
    }

    Mode m_mode;
    int m_listen = -1;
    int m_port = 0;
    std::atomic<bool> m_stop{false};
    std::atomic<int> m_posts{0};
    std::vector<int> m_held;
    std::thread m_thread;
};

ArcSettings quick(const std::string& url) {
    ArcSettings s;
    s.url = url;
    s.max_timeout_s = 1;
    s.linger = 20ms;
    s.backoff_base = 1ms;
    s.backoff_max = 5ms;
    s.request_timeout = 10000ms;
    s.batch_max = 10;
    s.capacity = 64;
    return s;
}

// Takes outcomes until `n` have arrived (or a generous deadline passes).
std::vector<ArcOutcome> collect(ArcClient& client, std::size_t n) {
    std::vector<ArcOutcome> out;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    ArcOutcome o;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
        if (client.try_take(o))
            out.push_back(o);
        else
            std::this_thread::sleep_for(1ms);
    }
    return out;
}

const ArcOutcome* find(const std::vector<ArcOutcome>& v, const model::Job& j) {
    for (const auto& o : v)
        if (o.job.txid == j.txid) return &o;
    return nullptr;
}

TEST(ArcClient, BatchesAndMatchesShuffledAnswersByTxid) {
    FakeArc arc;
    arc.on_txs = [](int call, const std::vector<std::string>& ids, httplib::Response& res) {
        std::vector<std::string> entries;
        for (const auto& id : ids)
            // A status that depends on the tx, so matching by position would show.
            entries.push_back(ok_entry(id, id[63] < '8' ? "MINED" : "SEEN_ON_NETWORK"));
        std::mt19937 rng(static_cast<unsigned>(call));
        std::shuffle(entries.begin(), entries.end(), rng);
        res.set_content(array_of(entries), "application/json");
    };
    ArcClient client(quick(arc.url()));
    std::vector<model::Job> jobs;
    // Submitted before start: the I/O thread finds all 25 at once, so the
    // batches are exactly 10, 10 and 5 (the last after the linger).
    for (std::uint32_t n = 1; n <= 25; ++n) {
        jobs.push_back(make_job(n));
        ASSERT_TRUE(client.try_submit(jobs.back()));
    }
    ASSERT_EQ(client.start(nullptr), "");
    const auto out = collect(client, 25);
    ASSERT_EQ(out.size(), 25u);
    for (const auto& j : jobs) {
        const ArcOutcome* o = find(out, j);
        ASSERT_NE(o, nullptr);
        EXPECT_EQ(o->verdict, ArcVerdict::sent);
        EXPECT_EQ(o->arc_status, 200);
        EXPECT_EQ(o->attempts, 1u);
        EXPECT_EQ(o->tx_status.view(), display(j)[63] < '8' ? "MINED" : "SEEN_ON_NETWORK");
        EXPECT_TRUE(std::equal(o->job.ef.span().begin(), o->job.ef.span().end(),
                               j.ef.span().begin(), j.ef.span().end()));
    }
    auto posts = arc.seen("/v1/txs");
    ASSERT_EQ(posts.size(), 3u);
    std::vector<std::string> expected;
    for (const auto& j : jobs)
        expected.push_back(display(j));
    const auto rank = [&](const Seen& p) {
        const auto ids = txids_in(p.body);
        return ids.empty()
                   ? expected.size()
                   : static_cast<std::size_t>(std::find(expected.begin(), expected.end(), ids[0]) -
                                              expected.begin());
    };
    // Requests run concurrently and may reach the server in any order.
    std::sort(posts.begin(), posts.end(),
              [&](const Seen& x, const Seen& y) { return rank(x) < rank(y); });
    std::vector<std::size_t> sizes;
    std::vector<std::string> all;
    for (const auto& p : posts) {
        EXPECT_EQ(p.body.size() % k_fake_tx, 0u);
        sizes.push_back(p.body.size() / k_fake_tx);
        for (const auto& id : txids_in(p.body))
            all.push_back(id);
    }
    EXPECT_EQ(sizes, (std::vector<std::size_t>{10, 10, 5}));
    // EF bytes simply concatenated; batches cut in submission order.
    EXPECT_EQ(all, expected);
    const ArcStats st = client.stats();
    EXPECT_EQ(st.txs_posted, 25u);
    EXPECT_EQ(st.sent, 25u);
    EXPECT_EQ(st.retries, 0u);
    EXPECT_EQ(client.outstanding(), 0u);
    EXPECT_GT(st.latency_p99_us, 0u);
}

TEST(ArcClient, SendsConfiguredHeaders) {
    FakeArc arc;
    ArcSettings s = quick(arc.url());
    s.api_key = "k3y-SECRET-value";
    s.max_timeout_s = 3;
    s.callback_url = "https://example.test/cb";
    s.callback_token = "cb-token";
    ArcClient client(s);
    ASSERT_EQ(client.start(nullptr), "");
    ASSERT_TRUE(client.try_submit(make_job(1)));
    ASSERT_EQ(collect(client, 1).size(), 1u);
    const auto posts = arc.seen("/v1/txs");
    ASSERT_EQ(posts.size(), 1u);
    const auto& h = posts[0].headers;
    const auto get = [&](const char* k) {
        auto it = h.find(k);
        return it == h.end() ? std::string("<absent>") : it->second;
    };
    EXPECT_EQ(get("Authorization"), "Bearer k3y-SECRET-value");
    EXPECT_EQ(get("Content-Type"), "application/octet-stream");
    EXPECT_EQ(get("X-WaitFor"), "SEEN_ON_NETWORK");
    EXPECT_EQ(get("X-MaxTimeout"), "3");
    EXPECT_EQ(get("X-CallbackUrl"), "https://example.test/cb");
    EXPECT_EQ(get("X-CallbackToken"), "cb-token");
    EXPECT_EQ(get("X-CallbackBatch"), "true");
    const auto policy = arc.seen("/v1/policy");
    ASSERT_FALSE(policy.empty());
    EXPECT_EQ(policy[0].headers.count("Authorization"), 1u);
    EXPECT_EQ(policy[0].headers.find("Authorization")->second, "Bearer k3y-SECRET-value");
}

TEST(ArcClient, NoKeyNoAuthorizationHeader) {
    FakeArc arc;
    ArcClient client(quick(arc.url()));
    ASSERT_EQ(client.start(nullptr), "");
    ASSERT_TRUE(client.try_submit(make_job(1)));
    ASSERT_EQ(collect(client, 1).size(), 1u);
    const auto posts = arc.seen("/v1/txs");
    ASSERT_EQ(posts.size(), 1u);
    EXPECT_EQ(posts[0].headers.count("Authorization"), 0u);
    EXPECT_EQ(posts[0].headers.count("X-CallbackUrl"), 0u);
}

TEST(ArcClient, RefusedKeyIsUnresolvedAndNeverEchoed) {
    const std::string key = "k3y-SECRET-value";
    FakeArc arc;
    arc.on_txs = [](int, const std::vector<std::string>&, httplib::Response& res) {
        res.status = 401;
        res.set_content(error_entry("", 401, "Unauthorized", "bad key"), "application/json");
    };
    ArcSettings s = quick(arc.url());
    s.api_key = key;
    ArcClient client(s);
    ASSERT_EQ(client.start(nullptr), "");
    ASSERT_TRUE(client.try_submit(make_job(1)));
    const auto out = collect(client, 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].verdict, ArcVerdict::unresolved);
    EXPECT_EQ(out[0].arc_status, 401);
    EXPECT_NE(out[0].detail.view().find("ARC_API_KEY"), std::string_view::npos);
    EXPECT_EQ(out[0].detail.view().find(key), std::string_view::npos);
    EXPECT_EQ(client.stats().auth_errors, 1u);
    EXPECT_EQ(arc.seen("/v1/txs").size(), 1u);  // not retried

    // At start-up: the policy read is refused.
    arc.policy_status = 403;
    ArcClient second(s);
    const std::string err = second.start(nullptr);
    EXPECT_NE(err.find("ARC_API_KEY"), std::string::npos) << err;
    EXPECT_NE(err.find("403"), std::string::npos) << err;
    EXPECT_EQ(err.find(key), std::string::npos) << err;
}

TEST(ArcClient, StartReportsAnUnreachableArc) {
    int port = 0;
    {
        BrokenArc gone(BrokenArc::Mode::close);  // a port that was just free
        port = std::stoi(gone.url().substr(gone.url().rfind(':') + 1));
    }
    ArcSettings s = quick("http://127.0.0.1:" + std::to_string(port) + "/");
    s.api_key = "k3y-SECRET-value";
    ArcClient client(s);
    const std::string err = client.start(nullptr);
    EXPECT_NE(err.find("cannot reach ARC at http://127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("ARC_URL"), std::string::npos) << err;
    EXPECT_EQ(err.find("k3y-SECRET-value"), std::string::npos) << err;
    EXPECT_EQ(client.stats().policy_failures, 3u);
}

TEST(ArcClient, RefusalsInA200AnswerFail) {
    FakeArc arc;
    const auto a = make_job(1), b = make_job(2), c = make_job(3), d = make_job(4);
    const std::string competing(64, 'c');
    arc.on_txs = [&](int, const std::vector<std::string>& ids, httplib::Response& res) {
        std::vector<std::string> entries;
        for (const auto& id : ids) {
            if (id == display(a)) {
                std::string e = ok_entry(id, "REJECTED");
                e.replace(e.find(R"("extraInfo":"")"), 14, R"("extraInfo":"script failed")");
                entries.push_back(e);
            } else if (id == display(b)) {
                std::string e = ok_entry(id, "DOUBLE_SPEND_ATTEMPTED");
                e.insert(e.size() - 1, R"(,"competingTxs":[")" + competing + "\"]");
                entries.push_back(e);
            } else if (id == display(c)) {
                entries.push_back(error_entry(id, 461, "Unlocking script failed", "bad sig"));
            } else {
                entries.push_back(ok_entry(id));
            }
        }
        std::reverse(entries.begin(), entries.end());
        res.set_content(array_of(entries), "application/json");
    };
    ArcClient client(quick(arc.url()));
    for (const auto& j : {a, b, c, d})
        ASSERT_TRUE(client.try_submit(j));
    ASSERT_EQ(client.start(nullptr), "");
    const auto out = collect(client, 4);
    ASSERT_EQ(out.size(), 4u);
    const ArcOutcome* oa = find(out, a);
    const ArcOutcome* ob = find(out, b);
    const ArcOutcome* oc = find(out, c);
    const ArcOutcome* od = find(out, d);
    ASSERT_TRUE(oa && ob && oc && od);
    EXPECT_EQ(oa->verdict, ArcVerdict::failed);
    EXPECT_EQ(oa->tx_status.view(), "REJECTED");
    EXPECT_NE(oa->detail.view().find("REJECTED"), std::string_view::npos);
    EXPECT_NE(oa->detail.view().find("script failed"), std::string_view::npos);
    EXPECT_EQ(ob->verdict, ArcVerdict::failed);
    EXPECT_EQ(ob->detail.view().substr(0, 35), "DOUBLE_SPEND_ATTEMPTED: competing c");
    EXPECT_NE(ob->detail.view().find(competing), std::string_view::npos);
    EXPECT_EQ(oc->verdict, ArcVerdict::failed);
    EXPECT_EQ(oc->arc_status, 461);
    EXPECT_EQ(oc->detail.view(), "ARC 461 Unlocking script failed: bad sig");
    EXPECT_EQ(od->verdict, ArcVerdict::sent);
    const ArcStats st = client.stats();
    EXPECT_EQ(st.failed, 3u);
    EXPECT_EQ(st.sent, 1u);
    EXPECT_EQ(st.retries, 0u);
}

TEST(ArcClient, FeeTooLowRereadsPolicyFirst) {
    FakeArc arc;
    arc.policy_sats = 150;
    const auto low = make_job(1), fine = make_job(2);
    arc.on_txs = [&](int, const std::vector<std::string>& ids, httplib::Response& res) {
        arc.policy_sats = 250;  // the network's minimum went up
        std::vector<std::string> entries;
        for (const auto& id : ids)
            entries.push_back(id == display(low)
                                  ? error_entry(id, 465, "Fee too low", "The fees are too low")
                                  : ok_entry(id));
        res.set_content(array_of(entries), "application/json");
    };
    ArcClient client(quick(arc.url()));
    ASSERT_EQ(client.start(nullptr), "");
    EXPECT_EQ(client.fee_rate().satoshis, 150u);
    EXPECT_EQ(client.stats().policy_reads, 1u);
    ASSERT_TRUE(client.try_submit(low));
    ASSERT_TRUE(client.try_submit(fine));
    const auto out = collect(client, 2);
    ASSERT_EQ(out.size(), 2u);
    const ArcOutcome* o = find(out, low);
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->verdict, ArcVerdict::fee_too_low);
    EXPECT_EQ(o->arc_status, 465);
    EXPECT_NE(o->detail.view().find("fee rate now 250/1000"), std::string_view::npos)
        << o->detail.view();
    // Read as soon as the outcome is out: the policy was re-read before.
    EXPECT_EQ(client.stats().policy_reads, 2u);
    EXPECT_EQ(client.fee_rate().satoshis, 250u);
    EXPECT_EQ(client.fee_rate().bytes, 1000u);
    EXPECT_EQ(find(out, fine)->verdict, ArcVerdict::sent);
    EXPECT_EQ(client.stats().fee_too_low, 1u);
}

TEST(ArcClient, FeeRateNeverBelowTheFloor) {
    FakeArc arc;
    arc.policy_sats = 50;
    const auto low = make_job(1), other = make_job(2);
    // A whole-request 465 naming one tx: that job is fee_too_low, the other
    // is sent again on its own.
    arc.on_txs = [&](int, const std::vector<std::string>& ids, httplib::Response& res) {
        if (std::find(ids.begin(), ids.end(), display(low)) != ids.end()) {
            res.status = 465;
            res.set_content(error_entry(display(low), 465, "Fee too low", "too low"),
                            "application/json");
            return;
        }
        std::vector<std::string> entries;
        for (const auto& id : ids)
            entries.push_back(ok_entry(id));
        res.set_content(array_of(entries), "application/json");
    };
    ArcSettings s = quick(arc.url());
    s.fee_floor = {100, 1000};
    ArcClient client(s);
    ASSERT_TRUE(client.try_submit(low));
    ASSERT_TRUE(client.try_submit(other));
    ASSERT_EQ(client.start(nullptr), "");
    EXPECT_EQ(client.fee_rate().satoshis, 100u);  // policy 50 is below the floor
    const auto out = collect(client, 2);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(find(out, low)->verdict, ArcVerdict::fee_too_low);
    EXPECT_EQ(find(out, low)->attempts, 1u);
    EXPECT_EQ(find(out, other)->verdict, ArcVerdict::sent);
    EXPECT_EQ(find(out, other)->attempts, 2u);
    EXPECT_EQ(client.stats().policy_reads, 2u);
    EXPECT_EQ(client.fee_rate().satoshis, 100u);
    const auto posts = arc.seen("/v1/txs");
    ASSERT_EQ(posts.size(), 2u);
    EXPECT_EQ(txids_in(posts[1].body), std::vector<std::string>{display(other)});
}

TEST(ArcClient, ServiceUnavailableRetriesTheSameBytes) {
    FakeArc arc;
    arc.on_txs = [](int call, const std::vector<std::string>& ids, httplib::Response& res) {
        if (call <= 2) {
            res.status = 503;
            res.set_content(error_entry("", 503, "Service Unavailable", "busy"),
                            "application/json");
            return;
        }
        std::vector<std::string> entries;
        for (const auto& id : ids)
            entries.push_back(ok_entry(id));
        res.set_content(array_of(entries), "application/json");
    };
    ArcClient client(quick(arc.url()));
    for (std::uint32_t n = 1; n <= 3; ++n)
        ASSERT_TRUE(client.try_submit(make_job(n)));
    ASSERT_EQ(client.start(nullptr), "");
    const auto out = collect(client, 3);
    ASSERT_EQ(out.size(), 3u);
    for (const auto& o : out) {
        EXPECT_EQ(o.verdict, ArcVerdict::sent);
        EXPECT_EQ(o.attempts, 3u);
    }
    const auto posts = arc.seen("/v1/txs");
    ASSERT_EQ(posts.size(), 3u);
    EXPECT_EQ(posts[0].body.size(), 3 * k_fake_tx);
    EXPECT_EQ(posts[1].body, posts[0].body);
    EXPECT_EQ(posts[2].body, posts[0].body);
    const ArcStats st = client.stats();
    EXPECT_EQ(st.http_5xx, 2u);
    EXPECT_EQ(st.retries, 6u);
    EXPECT_EQ(st.unanswered_in_a_row, 0u);  // the third answer reset it
    EXPECT_GE(st.policy_age_ms, 0);         // read at start
}

TEST(ArcClient, DroppedConnectionsEndUnresolved) {
    BrokenArc arc(BrokenArc::Mode::close);
    ArcSettings s = quick(arc.url());
    s.max_attempts = 3;
    ArcClient client(s);
    ASSERT_EQ(client.start(nullptr), "");
    ASSERT_TRUE(client.try_submit(make_job(1)));
    const auto out = collect(client, 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].verdict, ArcVerdict::unresolved);
    EXPECT_EQ(out[0].attempts, 3u);
    EXPECT_EQ(out[0].arc_status, 0);
    EXPECT_NE(out[0].detail.view().find("transport error"), std::string_view::npos)
        << out[0].detail.view();
    EXPECT_EQ(client.stats().transport_errors, 3u);
    EXPECT_EQ(client.stats().unresolved, 1u);
    EXPECT_EQ(client.stats().unanswered_in_a_row, 3u);  // what /health calls unreachable
}

TEST(ArcClient, SilentServerTimesOutThenUnresolved) {
    BrokenArc arc(BrokenArc::Mode::hang);
    ArcSettings s = quick(arc.url());
    s.max_attempts = 2;
    s.request_timeout = 300ms;
    ArcClient client(s);
    ASSERT_EQ(client.start(nullptr), "");
    ASSERT_TRUE(client.try_submit(make_job(1)));
    const auto out = collect(client, 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].verdict, ArcVerdict::unresolved);
    EXPECT_EQ(out[0].attempts, 2u);
    EXPECT_NE(out[0].detail.view().find("no answer within 300 ms"), std::string_view::npos)
        << out[0].detail.view();
    EXPECT_EQ(client.stats().timeouts, 2u);
    EXPECT_EQ(arc.posts(), 2);
}

TEST(ArcClient, MissingEntryIsRetried) {
    FakeArc arc;
    const auto a = make_job(1), b = make_job(2), c = make_job(3);
    arc.on_txs = [&](int call, const std::vector<std::string>& ids, httplib::Response& res) {
        std::vector<std::string> entries;
        for (const auto& id : ids)
            if (call > 1 || id != display(b)) entries.push_back(ok_entry(id));
        res.set_content(array_of(entries), "application/json");
    };
    ArcClient client(quick(arc.url()));
    for (const auto& j : {a, b, c})
        ASSERT_TRUE(client.try_submit(j));
    ASSERT_EQ(client.start(nullptr), "");
    const auto out = collect(client, 3);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(find(out, a)->attempts, 1u);
    EXPECT_EQ(find(out, b)->attempts, 2u);
    EXPECT_EQ(find(out, c)->attempts, 1u);
    for (const auto& o : out)
        EXPECT_EQ(o.verdict, ArcVerdict::sent);
    const auto posts = arc.seen("/v1/txs");
    ASSERT_EQ(posts.size(), 2u);
    EXPECT_EQ(txids_in(posts[1].body), std::vector<std::string>{display(b)});
    EXPECT_EQ(client.stats().missing_entries, 1u);
    EXPECT_EQ(client.stats().retries, 1u);
}

TEST(ArcClient, RecoveredJobsAreLookedUpBeforeBroadcast) {
    FakeArc arc;
    const auto held = make_job(1, 0), unknown = make_job(2, 0), refused = make_job(3, 0);
    const auto fresh = make_job(4, 7);
    arc.on_tx = [&](const std::string& id, httplib::Response& res) {
        if (id == display(held)) {
            res.set_content(ok_entry(id, "SEEN_ON_NETWORK"), "application/json");
        } else if (id == display(refused)) {
            res.set_content(ok_entry(id, "REJECTED"), "application/json");
        } else {
            res.status = 404;
            res.set_content(error_entry("", 404, "Not found", "unknown"), "application/json");
        }
    };
    ArcClient client(quick(arc.url()));
    ASSERT_EQ(client.start(nullptr), "");
    for (const auto& j : {held, unknown, refused, fresh})
        ASSERT_TRUE(client.try_submit(j));
    const auto out = collect(client, 4);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(find(out, held)->verdict, ArcVerdict::sent);
    EXPECT_EQ(find(out, held)->tx_status.view(), "SEEN_ON_NETWORK");
    EXPECT_EQ(find(out, refused)->verdict, ArcVerdict::failed);
    EXPECT_EQ(find(out, unknown)->verdict, ArcVerdict::sent);
    EXPECT_EQ(find(out, unknown)->attempts, 2u);  // one look-up, one broadcast
    EXPECT_EQ(find(out, fresh)->verdict, ArcVerdict::sent);
    std::vector<std::string> posted;
    for (const auto& p : arc.seen("/v1/txs"))
        for (const auto& id : txids_in(p.body))
            posted.push_back(id);
    std::sort(posted.begin(), posted.end());
    std::vector<std::string> expected{display(unknown), display(fresh)};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(posted, expected);
    EXPECT_EQ(arc.seen("/v1/tx/").size(), 3u);
    EXPECT_EQ(client.stats().status_checks, 3u);
}

TEST(ArcClient, BackpressureAtCapacity) {
    FakeArc arc;
    ArcSettings s = quick(arc.url());
    s.capacity = 4;
    ArcClient client(s);
    for (std::uint32_t n = 1; n <= 4; ++n)
        ASSERT_TRUE(client.try_submit(make_job(n)));
    EXPECT_FALSE(client.try_submit(make_job(5)));
    EXPECT_EQ(client.outstanding(), 4u);
    ASSERT_EQ(client.start(nullptr), "");
    // Outcomes not yet taken still count: nothing more until one is taken.
    while (client.stats().sent < 4)
        std::this_thread::sleep_for(1ms);
    EXPECT_FALSE(client.try_submit(make_job(5)));
    EXPECT_EQ(collect(client, 4).size(), 4u);
    EXPECT_EQ(client.outstanding(), 0u);
    ASSERT_TRUE(client.try_submit(make_job(5)));
    const auto out = collect(client, 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].job.intake_seq, 5u);
    client.stop();
    EXPECT_FALSE(client.try_submit(make_job(6)));
}

TEST(ArcClient, SeveralRequestsInFlight) {
    FakeArc arc;
    std::mutex m;
    std::condition_variable cv;
    int active = 0, max_active = 0;
    arc.on_txs = [&](int, const std::vector<std::string>& ids, httplib::Response& res) {
        {
            std::unique_lock lock(m);
            max_active = std::max(max_active, ++active);
            cv.notify_all();
            cv.wait_for(lock, 20s, [&] { return max_active >= 2; });
            --active;
        }
        std::vector<std::string> entries;
        for (const auto& id : ids)
            entries.push_back(ok_entry(id));
        res.set_content(array_of(entries), "application/json");
    };
    ArcSettings s = quick(arc.url());
    s.batch_max = 1;
    s.max_in_flight = 4;
    ArcClient client(s);
    for (std::uint32_t n = 1; n <= 4; ++n)
        ASSERT_TRUE(client.try_submit(make_job(n)));
    ASSERT_EQ(client.start(nullptr), "");
    const auto out = collect(client, 4);
    ASSERT_EQ(out.size(), 4u);
    for (const auto& o : out)
        EXPECT_EQ(o.verdict, ArcVerdict::sent);
    std::lock_guard lock(m);
    EXPECT_GE(max_active, 2);
}

// A 400 naming no transaction judges the request, not a transaction: the
// batch is split to find out whether ARC names one; alone, the tx is
// retried and ends unresolved, never failed. Three such refusals in a row
// stop the run with a message naming the settings.
TEST(ArcClient, BadRequestWithoutTxidIsNoVerdictOnTheTransaction) {
    FakeArc arc;
    const auto a = make_job(1), bad = make_job(2), c = make_job(3);
    arc.on_txs = [&](int, const std::vector<std::string>& ids, httplib::Response& res) {
        if (ids.size() > 1 || ids[0] == display(bad)) {
            res.status = 400;
            res.set_content(error_entry("", 400, "Bad request", "cannot parse"),
                            "application/json");
            return;
        }
        res.set_content(array_of({ok_entry(ids[0])}), "application/json");
    };
    ArcSettings s = quick(arc.url());
    s.max_attempts = 2;
    ArcClient client(s);
    for (const auto& j : {a, bad, c})
        ASSERT_TRUE(client.try_submit(j));
    ASSERT_EQ(client.start(nullptr), "");
    const auto out = collect(client, 3);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(find(out, a)->verdict, ArcVerdict::sent);
    EXPECT_EQ(find(out, c)->verdict, ArcVerdict::sent);
    EXPECT_EQ(find(out, bad)->verdict, ArcVerdict::unresolved);
    EXPECT_EQ(find(out, bad)->arc_status, 400);
    EXPECT_NE(find(out, bad)->detail.view().find("ARC 400 Bad request: cannot parse"),
              std::string_view::npos)
        << find(out, bad)->detail.view();
    EXPECT_EQ(client.stats().splits, 1u);
    EXPECT_EQ(client.stats().failed, 0u);
    EXPECT_GE(client.stats().request_refusals, 1u);
}

TEST(ArcClient, ARefusedHeaderOnEveryRequestStopsTheRunAndFailsNothing) {
    FakeArc arc;
    arc.on_txs = [](int, const std::vector<std::string>&, httplib::Response& res) {
        res.status = 400;
        res.set_content(error_entry("", 400, "Bad request", "invalid X-WaitFor"),
                        "application/json");
    };
    flow::RunContext ctx;
    ArcSettings s = quick(arc.url());
    s.batch_max = 1;
    ArcClient client(s);
    std::vector<model::Job> jobs;
    for (std::uint32_t n = 1; n <= 6; ++n) {
        jobs.push_back(make_job(n));
        ASSERT_TRUE(client.try_submit(jobs.back()));
    }
    ASSERT_EQ(client.start(&ctx), "");
    const auto out = collect(client, 6);
    ASSERT_EQ(out.size(), 6u);
    for (const auto& o : out)
        EXPECT_EQ(o.verdict, ArcVerdict::unresolved) << arc_verdict_name(o.verdict);
    EXPECT_TRUE(ctx.stop_requested());
    const std::string why = client.fatal_error();
    EXPECT_NE(why.find("--arc-wait-for"), std::string::npos) << why;
    EXPECT_NE(why.find("invalid X-WaitFor"), std::string::npos) << why;
    EXPECT_EQ(client.stats().failed, 0u);
    // Stopped early: far fewer POSTs than 6 jobs x 8 attempts.
    EXPECT_LT(arc.seen("/v1/txs").size(), 20u);
}

// ARC's 409 ("not yet formally classified": its store was down, a deadline
// passed) for the whole request or for one transaction is no verdict: the
// same bytes again, and sent once ARC answers.
TEST(ArcClient, Conflict409IsRetriedNeverFailed) {
    FakeArc arc;
    const auto a = make_job(1), b = make_job(2);
    arc.on_txs = [&](int call, const std::vector<std::string>& ids, httplib::Response& res) {
        if (call == 1) {
            res.status = 409;
            res.set_content(error_entry("", 409, "Generic error", "deadline exceeded"),
                            "application/json");
            return;
        }
        std::vector<std::string> entries;
        for (const auto& id : ids)
            entries.push_back(call == 2 && id == display(b)
                                  ? error_entry(id, 409, "Generic error", "store unavailable")
                                  : ok_entry(id));
        res.set_content(array_of(entries), "application/json");
    };
    ArcClient client(quick(arc.url()));
    ASSERT_TRUE(client.try_submit(a));
    ASSERT_TRUE(client.try_submit(b));
    ASSERT_EQ(client.start(nullptr), "");
    const auto out = collect(client, 2);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(find(out, a)->verdict, ArcVerdict::sent);
    EXPECT_EQ(find(out, a)->attempts, 2u);
    EXPECT_EQ(find(out, b)->verdict, ArcVerdict::sent);
    EXPECT_EQ(find(out, b)->attempts, 3u);
    EXPECT_EQ(client.stats().failed, 0u);
    const auto posts = arc.seen("/v1/txs");
    ASSERT_EQ(posts.size(), 3u);
    EXPECT_EQ(posts[1].body, posts[0].body);
}

TEST(ArcClient, RunsWithAWakeContext) {
    FakeArc arc;
    flow::RunContext ctx;
    ArcClient client(quick(arc.url()));
    ASSERT_EQ(client.start(&ctx), "");
    ASSERT_TRUE(client.try_submit(make_job(1)));
    ASSERT_EQ(collect(client, 1).size(), 1u);
}

TEST(ArcClient, SettingsAreValidated) {
    const auto throws_with = [](ArcSettings s, const std::string& needle) {
        try {
            ArcClient c(std::move(s));
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find("SECRET"), std::string::npos) << e.what();
            return;
        }
        ADD_FAILURE() << "no exception for " << needle;
    };
    ArcSettings ok = quick("http://127.0.0.1:1");
    ArcSettings s = ok;
    s.url = "";
    throws_with(s, "ARC_URL");
    s = ok;
    s.url = "ftp://x";
    throws_with(s, "http://");
    s = ok;
    s.batch_max = 0;
    throws_with(s, "batch size");
    s = ok;
    s.max_in_flight = 0;
    throws_with(s, "in flight");
    s = ok;
    s.capacity = 0;
    throws_with(s, "capacity");
    s = ok;
    s.max_attempts = 0;
    throws_with(s, "attempts");
    s = ok;
    s.api_key = "SECRET\nX-Evil: 1";
    throws_with(s, "ARC_API_KEY");
    s = ok;
    s.fee_floor = {1, 0};
    throws_with(s, "fee floor");
    s = ok;
    s.wait_for = "SEEN";
    throws_with(s, "--arc-wait-for");
    s.wait_for = "";  // header not sent
    EXPECT_NO_THROW(ArcClient{s});
    EXPECT_NO_THROW(ArcClient{ok});
}

}  // namespace
}  // namespace raregen::send
