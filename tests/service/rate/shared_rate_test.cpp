// The shared rate limit's thread against a real PostgreSQL 15, with the
// gates played by threads that spend tokens as fast as they are granted and
// answer for them at once: three engines together never spend more than the
// capacity in any window of one period, each gets a share, unspent tokens
// go back when demand ends, and stop() leaves nothing counted but the last
// period's slices.

#include "service/rate/shared_rate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/pg/migrations.h"
#include "storage/rate/rate_leases.h"
#include "tests/storage/pg/pg_test_env.h"

namespace raregen::service {
namespace {

using pg::testing::PgTest;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class SharedRateTest : public PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        db = fresh_database();
        conn.emplace(connect(db));
        ASSERT_TRUE(pg::migrate(*conn).ok());
    }

    std::int64_t outstanding() {
        std::int64_t n = -1;
        EXPECT_TRUE(rate::outstanding_tokens(*conn, rate::k_publish_gate, n).ok());
        return n;
    }

    std::string db;
    std::optional<pg::Connection> conn;
};

// An engine's gate and send stage, played: `jobs` jobs waiting, each spends
// a shared token and is answered at once.
struct PlayedEngine {
    gate::SharedAllowance allowance;
    std::atomic<std::uint64_t> answered{0};
    std::vector<Clock::time_point> spent;

    void run(std::size_t jobs, Clock::time_point give_up) {
        while (spent.size() < jobs && Clock::now() < give_up) {
            allowance.set_demand(jobs - spent.size());
            if (allowance.try_take()) {
                spent.push_back(Clock::now());
                answered.fetch_add(1, std::memory_order_release);
            } else {
                std::this_thread::sleep_for(200us);
            }
        }
        allowance.set_demand(0);
    }
};

TEST_F(SharedRateTest, ThreeEnginesNeverSpendMoreThanTheCapacityInAnyPeriod) {
    SharedRateSettings s;
    s.capacity = 20;
    s.period = 300ms;
    s.max_slice = 4;
    constexpr int k_engines = 3;
    constexpr std::size_t k_jobs = 60;  // 180 in all: 9 periods at least
    std::vector<std::unique_ptr<PlayedEngine>> engines;
    std::vector<std::unique_ptr<SharedRate>> rates;
    for (int i = 0; i < k_engines; ++i) {
        const std::string id = "i-engine-" + std::to_string(i);
        engines.push_back(std::make_unique<PlayedEngine>());
        rates.push_back(std::make_unique<SharedRate>(db, id, s, engines.back()->allowance,
                                                     engines.back()->answered, nullptr, nullptr));
        ASSERT_EQ(rates.back()->start(), "");
    }
    const auto give_up = Clock::now() + 60s;
    std::vector<std::thread> gates;
    for (auto& e : engines)
        gates.emplace_back([&e, give_up] { e->run(k_jobs, give_up); });
    for (std::thread& t : gates)
        t.join();
    std::vector<Clock::time_point> all;
    for (auto& e : engines) {
        EXPECT_EQ(e->spent.size(), k_jobs) << "an engine was starved";
        all.insert(all.end(), e->spent.begin(), e->spent.end());
    }
    std::sort(all.begin(), all.end());
    std::size_t lo = 0, most = 0;
    for (std::size_t hi = 0; hi < all.size(); ++hi) {
        while (all[hi] - all[lo] >= s.period)
            ++lo;
        most = std::max(most, hi - lo + 1);
    }
    EXPECT_LE(most, s.capacity) << "tokens spent in one period by all engines together";
    EXPECT_GT(most, s.capacity / 2) << "the limit was hardly used: the test proves little";
    for (auto& r : rates)
        r->stop();
    for (auto& r : rates) {
        const SharedRate::Stats st = r->stats();
        EXPECT_EQ(st.failures, 0u) << st.last_error;
        EXPECT_GT(st.settled, 0u);
    }
    // The limit was contended: engines waited for each other's slices.
    std::uint64_t short_acquires = 0;
    for (auto& r : rates)
        short_acquires += r->stats().short_acquires;
    EXPECT_GT(short_acquires, 0u);
    // Stopped engines hold nothing unsettled; settled slices fade out.
    pg::Result open =
        conn->exec("SELECT count(*) FROM raregen_rate_leases WHERE settled_at IS NULL");
    EXPECT_EQ(open.text(0, 0), "0");
    std::this_thread::sleep_for(s.period + 50ms);
    EXPECT_EQ(outstanding(), 0);
}

TEST_F(SharedRateTest, UnspentTokensGoBackWhenDemandEnds) {
    SharedRateSettings s;
    s.capacity = 50;
    s.period = 10s;  // the settled slice still counts when it is looked at
    s.max_slice = 50;
    PlayedEngine e;
    SharedRate r(db, "i-a", s, e.allowance, e.answered, nullptr, nullptr);
    ASSERT_EQ(r.start(), "");
    e.allowance.set_demand(30);
    const auto deadline = Clock::now() + 30s;
    while (e.allowance.available() < 30 && Clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    ASSERT_EQ(e.allowance.available(), 30u);
    EXPECT_EQ(outstanding(), 30);
    ASSERT_TRUE(e.allowance.try_take());
    e.answered.fetch_add(1);
    e.allowance.set_demand(0);  // the backlog is gone
    while (e.allowance.available() > 0 && Clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    EXPECT_EQ(e.allowance.available(), 0u);
    // The one spent token's slice settles; the 29 unspent went back at once.
    while (outstanding() != 1 && Clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    EXPECT_EQ(outstanding(), 1);
    r.stop();
    const SharedRate::Stats st = r.stats();
    EXPECT_EQ(st.given_back, 29u);
    EXPECT_EQ(st.settled, 1u);
}

}  // namespace
}  // namespace raregen::service
