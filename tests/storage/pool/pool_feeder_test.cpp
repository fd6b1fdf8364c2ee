#include "storage/pool/pool_feeder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/model/utxo_ring.h"
#include "tests/storage/pool/pool_test_util.h"

namespace raregen::pool {
namespace {

using namespace std::chrono_literals;
using testing::key_of;
using testing::PoolTest;

// Waits for `cond`; the deadline only keeps a broken build from hanging.
bool eventually(const std::function<bool()>& cond) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!cond()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

PoolFeederOptions options(std::string id) {
    PoolFeederOptions o;
    o.instance_id = std::move(id);
    o.poll_interval = 5ms;
    o.reconnect_min = 5ms;
    o.reconnect_max = 50ms;
    return o;
}

// Waits for the feeder to finish `n` more passes (so it has looked at the ring since).
void wait_cycles(const PoolFeeder& f, std::uint64_t n) {
    const std::uint64_t target = f.cycles() + n;
    ASSERT_TRUE(eventually([&] { return f.cycles() >= target; }));
}

TEST(PoolFeederOptions, RefusesMissingInstanceAndTinyLease) {
    utxo::UtxoRing ring(8);
    EXPECT_THROW(PoolFeeder("dbname=x", ring, PoolFeederOptions{}), std::invalid_argument);
    auto o = options("e");
    o.lease_duration = 1ms;
    EXPECT_THROW(PoolFeeder("dbname=x", ring, o), std::invalid_argument);
}

TEST(PoolFeederOptions, ChunkDefaultsToAQuarterOfTheRingUpTo1000) {
    utxo::UtxoRing small(100);
    EXPECT_EQ(PoolFeeder("dbname=x", small, options("e")).chunk(), 25u);
    utxo::UtxoRing tiny(2);
    EXPECT_EQ(PoolFeeder("dbname=x", tiny, options("e")).chunk(), 1u);
    utxo::UtxoRing big(100'000);
    EXPECT_EQ(PoolFeeder("dbname=x", big, options("e")).chunk(), 1000u);
    auto o = options("e");
    o.chunk = 500;
    EXPECT_EQ(PoolFeeder("dbname=x", small, o).chunk(), 100u) << "capped at the capacity";
}

TEST_F(PoolTest, FeederFillsTheRingWithoutOverfillingAndRefillsAsItDrains) {
    seed(0, 1000);
    utxo::UtxoRing ring(100);
    std::atomic<int> refills{0};
    auto o = options("engine-a");
    o.on_refill = [&] { refills.fetch_add(1); };
    PoolFeeder feeder(m_conninfo, ring, o);
    ASSERT_EQ(feeder.chunk(), 25u);
    feeder.start();

    ASSERT_TRUE(eventually([&] { return ring.depth() == 100; }));
    wait_cycles(feeder, 3);
    EXPECT_TRUE(feeder.healthy());
    EXPECT_EQ(ring.depth(), 100u);
    EXPECT_EQ(feeder.leased(), 100u);
    EXPECT_EQ(count_where("status = 'reserved' AND leased_by = 'engine-a'"), 100)
        << "leased no more than the ring holds";
    EXPECT_GE(refills.load(), 4);

    // The consumer (this thread) pops 60: the feeder tops up in whole chunks.
    std::vector<chain::Utxo> popped(60);
    ASSERT_EQ(ring.try_pop_bulk(popped), 60u);
    ASSERT_TRUE(eventually([&] { return ring.pushed() == 150; }));
    wait_cycles(feeder, 3);
    EXPECT_EQ(ring.depth(), 90u);  // 40 + 2 chunks; 10 free < a chunk
    EXPECT_EQ(count_where("status = 'reserved' AND leased_by = 'engine-a'"), 150);

    // Drain it all: everything handed out is distinct and leased to us.
    std::set<std::string> seen;
    for (const auto& u : popped)
        seen.insert(key_of(u));
    chain::Utxo u;
    while (seen.size() < 1000) {
        if (ring.try_pop(u)) {
            ASSERT_TRUE(seen.insert(key_of(u)).second) << key_of(u) << " handed out twice";
        } else {
            ASSERT_TRUE(eventually([&] { return ring.available() > 0 || ring.closed(); }));
            ASSERT_FALSE(ring.closed());
        }
    }
    EXPECT_EQ(count_where("status = 'reserved' AND leased_by = 'engine-a'"), 1000);
    EXPECT_FALSE(ring.closed()) << "close_when_empty is off";
    const auto report = feeder.stop();
    EXPECT_TRUE(report.status.ok()) << report.status.message();
    EXPECT_EQ(report.left_in_ring, 0u);
    EXPECT_TRUE(ring.closed());
}

TEST_F(PoolTest, FeederClosesTheRingWhenThePoolRunsDry) {
    seed(0, 30);
    utxo::UtxoRing ring(100);
    std::atomic<int> refills{0};
    auto o = options("engine-a");
    o.close_when_empty = true;
    o.on_refill = [&] { refills.fetch_add(1); };
    PoolFeeder feeder(m_conninfo, ring, o);
    feeder.start();
    ASSERT_TRUE(eventually([&] { return ring.closed(); }));
    EXPECT_EQ(ring.depth(), 30u);
    EXPECT_EQ(feeder.leased(), 30u);
    EXPECT_GE(refills.load(), 2) << "a push and the close both wake the consumer";
    feeder.stop();
}

TEST_F(PoolTest, FeederKeepsTheRingOpenWithoutCloseWhenEmpty) {
    seed(0, 30);
    utxo::UtxoRing ring(100);
    PoolFeeder feeder(m_conninfo, ring, options("engine-a"));
    feeder.start();
    ASSERT_TRUE(eventually([&] { return ring.depth() == 30; }));
    wait_cycles(feeder, 3);
    EXPECT_FALSE(ring.closed());
    // New supply arrives and flows in.
    seed(1000, 20);
    ASSERT_TRUE(eventually([&] { return ring.depth() == 50; }));
    feeder.stop();
}

TEST_F(PoolTest, FeederStopReleasesWhatIsLeftInTheRing) {
    seed(0, 200);
    utxo::UtxoRing ring(100);
    PoolFeeder feeder(m_conninfo, ring, options("engine-a"));
    feeder.start();
    ASSERT_TRUE(eventually([&] { return ring.depth() == 100; }));
    // Another engine's lease is not the feeder's to release.
    ASSERT_EQ(lease_utxos(conn(), "engine-b", 10, 5min).value.size(), 10u);
    // The consumer takes 20 (the feeder may top up behind it), then stops.
    std::vector<chain::Utxo> used(20);
    ASSERT_EQ(ring.try_pop_bulk(used), 20u);

    const auto report = feeder.stop();  // consumer (this thread) is done popping
    ASSERT_TRUE(report.status.ok()) << report.status.message();
    const std::uint64_t left = ring.pushed() - 20;  // no push after stop()
    EXPECT_GE(left, 80u);
    EXPECT_EQ(report.left_in_ring, left);
    EXPECT_EQ(report.released, left);
    EXPECT_EQ(ring.depth(), 0u);
    EXPECT_TRUE(ring.closed());
    // Only the 20 used stay reserved under engine-a; engine-b's 10 untouched.
    EXPECT_EQ(count_where("status = 'reserved' AND leased_by = 'engine-a'"), 20);
    for (const auto& u : used)
        EXPECT_EQ(column_of(u, "leased_by"), "engine-a");
    EXPECT_EQ(count_where("status = 'reserved' AND leased_by = 'engine-b'"), 10);
    EXPECT_EQ(count_where("status = 'available' AND leased_by IS NULL AND lease_until IS NULL"),
              170);
    EXPECT_FALSE(feeder.healthy());
    // Idempotent.
    EXPECT_EQ(feeder.stop().released, left);
}

TEST_F(PoolTest, FeederRenewsItsLeases) {
    seed(0, 10);
    utxo::UtxoRing ring(16);
    auto o = options("engine-a");
    o.lease_duration = 300ms;  // renewed every 100 ms
    PoolFeeder feeder(m_conninfo, ring, o);
    feeder.start();
    ASSERT_TRUE(eventually([&] { return ring.depth() == 10; }));
    // Shorten the lease by hand; the next renewal puts it back in the future.
    ASSERT_TRUE(conn()
                    .exec("UPDATE utxos SET lease_until = now() - interval '1 hour' WHERE "
                          "leased_by = 'engine-a'")
                    .ok());
    const std::uint64_t renewals = feeder.renewals();
    ASSERT_TRUE(eventually([&] { return feeder.renewals() >= renewals + 2; }));
    EXPECT_EQ(count_where("leased_by = 'engine-a' AND lease_until > now() - interval '1 minute' "
                          "AND reserved_until = lease_until"),
              10);
    feeder.stop();
}

TEST_F(PoolTest, FeederReconnectsAfterItsConnectionDies) {
    seed(0, 10);
    utxo::UtxoRing ring(40);
    auto o = options("engine-a");
    o.connect.application_name = "raregen-pool-feeder-test";
    PoolFeeder feeder(m_conninfo, ring, o);
    feeder.start();
    ASSERT_TRUE(eventually([&] { return ring.depth() == 10 && feeder.healthy(); }));
    pg::Result killed = conn().exec(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = 'raregen-pool-feeder-test'");
    ASSERT_TRUE(killed.ok()) << killed.error();
    ASSERT_EQ(killed.int64(0, 0), 1);
    ASSERT_TRUE(eventually([&] { return feeder.reconnects() >= 1; })) << feeder.last_error();
    EXPECT_FALSE(feeder.last_error().empty());
    seed(100, 20);
    ASSERT_TRUE(eventually([&] { return ring.depth() == 30 && feeder.healthy(); }));
    EXPECT_EQ(count_where("status = 'reserved' AND leased_by = 'engine-a'"), 30);
    feeder.stop();
}

TEST_F(PoolTest, FeederReportsUnhealthyWhileTheDatabaseIsUnreachable) {
    utxo::UtxoRing ring(8);
    auto o = options("engine-a");
    o.connect.connect_timeout_s = 2;
    // A database that does not exist on the test cluster.
    PoolFeeder feeder(m_pg->conninfo_for("no_such_database_here"), ring, o);
    feeder.start();
    ASSERT_TRUE(eventually([&] { return !feeder.last_error().empty(); }));
    EXPECT_FALSE(feeder.healthy());
    EXPECT_NE(feeder.last_error().find("no_such_database_here"), std::string::npos)
        << feeder.last_error();
    const auto report = feeder.stop();
    EXPECT_TRUE(report.status.ok());
    EXPECT_EQ(report.left_in_ring, 0u);
    EXPECT_EQ(ring.depth(), 0u);
}

}  // namespace
}  // namespace raregen::pool
