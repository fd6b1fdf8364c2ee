// The shared rate limit's slices against a real PostgreSQL 15: sessions
// standing for engines never hold more than the capacity together; a
// settled slice counts for one period more, an unspent one goes back at
// once; a dead engine's slice (no rate lock, no fresh heartbeat) is settled
// by the next acquire, a grace ahead, and returns a period after that; a
// live engine whose lease connection broke keeps its slices.

#include "storage/rate/rate_leases.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "storage/pg/migrations.h"
#include "tests/storage/pg/pg_test_env.h"

namespace raregen::rate {
namespace {

using pg::testing::PgTest;
using namespace std::chrono_literals;

class RateLeases : public PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        db = fresh_database();
        conn.emplace(connect(db));
        ASSERT_TRUE(pg::migrate(*conn).ok());
        std::uint32_t previous = 0;
        ASSERT_TRUE(configure_gate(*conn, k_publish_gate, 10, 300ms, previous).ok());
        EXPECT_EQ(previous, 500u);  // the seed's MAX_TX_PER_3S, from the migration
    }

    Slice acquire(pg::Connection& c, const std::string& instance, std::uint32_t want) {
        Slice s;
        const pg::Status st = acquire_slice(c, k_publish_gate, instance, want, s);
        EXPECT_TRUE(st.ok()) << st.message();
        return s;
    }

    // Holds `instance`'s rate lock, as a running engine's lease connection does.
    pg::Connection alive(const std::string& instance) {
        pg::Connection c = connect(db);
        bool held = false;
        EXPECT_TRUE(hold_rate_lock(c, instance, held).ok());
        EXPECT_TRUE(held);
        return c;
    }

    std::int64_t outstanding() {
        std::int64_t n = -1;
        EXPECT_TRUE(outstanding_tokens(*conn, k_publish_gate, n).ok());
        return n;
    }

    std::string db;
    std::optional<pg::Connection> conn;
};

TEST_F(RateLeases, SlicesNeverHoldMoreThanTheCapacityAndASettledOneCountsForAPeriod) {
    pg::Connection a_lock = alive("i-a"), b_lock = alive("i-b");
    pg::Connection b = connect(db);
    const Slice a1 = acquire(*conn, "i-a", 6);
    EXPECT_EQ(a1.tokens, 6u);
    EXPECT_EQ(a1.capacity, 10u);
    EXPECT_EQ(a1.period, 300ms);
    const Slice b1 = acquire(b, "i-b", 6);
    EXPECT_EQ(b1.tokens, 4u);
    EXPECT_EQ(b1.next_return, -1ms) << "nothing settled: no return time";
    EXPECT_EQ(acquire(*conn, "i-a", 1).tokens, 0u);
    EXPECT_EQ(outstanding(), 10);

    // a spent 5 of its 6 and the network answered for them: the slice
    // counts 5 for one more period, the unspent one is free at once.
    bool found = false;
    ASSERT_TRUE(settle_slice(*conn, a1.lease_id, 5, found).ok());
    EXPECT_TRUE(found);
    const Slice b2 = acquire(b, "i-b", 6);
    EXPECT_EQ(b2.tokens, 1u);
    EXPECT_GE(b2.next_return, 0ms);
    EXPECT_LE(b2.next_return, 300ms);
    EXPECT_EQ(outstanding(), 10);
    std::this_thread::sleep_for(b2.next_return + 50ms);
    const Slice b3 = acquire(b, "i-b", 6);
    EXPECT_EQ(b3.tokens, 5u) << "the settled slice came back after its period";
    EXPECT_EQ(outstanding(), 10);
}

TEST_F(RateLeases, UnspentTokensGoBackAtOnce) {
    pg::Connection a_lock = alive("i-a"), b_lock = alive("i-b");
    const Slice a = acquire(*conn, "i-a", 10);
    ASSERT_EQ(a.tokens, 10u);
    bool found = false;
    ASSERT_TRUE(shrink_slice(*conn, a.lease_id, 3, found).ok());
    EXPECT_TRUE(found);
    EXPECT_EQ(outstanding(), 3);
    EXPECT_EQ(acquire(*conn, "i-b", 10).tokens, 7u);
    // Nothing spent: the slice is gone.
    const pg::Status st = shrink_slice(*conn, a.lease_id, 0, found);
    EXPECT_TRUE(st.ok()) << st.message();
    EXPECT_TRUE(found);
    EXPECT_EQ(outstanding(), 7);
}

TEST_F(RateLeases, ADeadEnginesSliceIsSettledByTheNextAcquireAGraceAheadAndReturnsAPeriodLater) {
    const ReapRule quick{std::chrono::milliseconds(1000), std::chrono::milliseconds(200)};
    pg::Connection b_lock = alive("i-b");
    std::optional<pg::Connection> dead_lock(alive("i-dead"));
    const Slice d = acquire(*conn, "i-dead", 10);
    EXPECT_EQ(d.tokens, 10u);
    Slice while_alive;
    ASSERT_TRUE(acquire_slice(*conn, k_publish_gate, "i-b", 5, while_alive, quick).ok());
    EXPECT_EQ(while_alive.tokens, 0u);
    EXPECT_EQ(while_alive.reaped, 0u) << "a live engine's slice was taken";
    dead_lock.reset();  // the engine dies: its session and lock are gone
    // The session's end reaches the server asynchronously.
    Slice s;
    for (int i = 0; i < 100 && s.reaped == 0; ++i) {
        ASSERT_TRUE(acquire_slice(*conn, k_publish_gate, "i-b", 5, s, quick).ok());
        if (s.reaped == 0) std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(s.reaped, 1u);
    EXPECT_EQ(s.tokens, 0u) << "its tokens may still be reaching the network";
    EXPECT_GE(s.next_return, 300ms) << "the grace is not counted";
    EXPECT_LE(s.next_return, 500ms);
    // The dead engine's own settle (had it lived on) finds the slice closed.
    bool found = true;
    ASSERT_TRUE(settle_slice(*conn, d.lease_id, 10, found).ok());
    EXPECT_FALSE(found);
    std::this_thread::sleep_for(s.next_return + 50ms);
    EXPECT_EQ(acquire(*conn, "i-b", 5).tokens, 5u);
}

// An engine whose lease connection broke (the database restarted) but whose
// heartbeat is fresh is alive: its slices stay; once the heartbeat is stale
// they are taken for dead.
TEST_F(RateLeases, AFreshHeartbeatKeepsAnEnginesSlicesWithoutItsRateLock) {
    const ReapRule quick{std::chrono::milliseconds(1000), std::chrono::milliseconds(0)};
    ASSERT_TRUE(conn->exec("INSERT INTO raregen_instances (instance_id) VALUES ('i-live')").ok());
    pg::Connection b_lock = alive("i-b");
    EXPECT_EQ(acquire(*conn, "i-live", 10).tokens, 10u);  // no rate lock held
    Slice s;
    ASSERT_TRUE(acquire_slice(*conn, k_publish_gate, "i-b", 5, s, quick).ok());
    EXPECT_EQ(s.reaped, 0u);
    EXPECT_EQ(s.tokens, 0u);
    ASSERT_TRUE(
        conn->exec("UPDATE raregen_instances SET heartbeat_at = now() - interval '10 s'").ok());
    ASSERT_TRUE(acquire_slice(*conn, k_publish_gate, "i-b", 5, s, quick).ok());
    EXPECT_EQ(s.reaped, 1u);
}

// A slice whose acquire committed but whose answer was lost is dropped
// when its engine reconnects; the ones it knows stay.
TEST_F(RateLeases, SlicesAnEngineDoesNotKnowAreDropped) {
    pg::Connection a_lock = alive("i-a");
    const Slice known = acquire(*conn, "i-a", 3);
    acquire(*conn, "i-a", 4);  // its answer "lost"
    EXPECT_EQ(outstanding(), 7);
    ASSERT_TRUE(drop_unknown_slices(*conn, "i-a", {known.lease_id}).ok());
    EXPECT_EQ(outstanding(), 3);
    ASSERT_TRUE(drop_unknown_slices(*conn, "i-a", {}).ok());
    EXPECT_EQ(outstanding(), 0);
}

TEST_F(RateLeases, ConfigureGateSaysWhatTheLimitWas) {
    std::uint32_t previous = 7;
    ASSERT_TRUE(configure_gate(*conn, k_publish_gate, 10, 300ms, previous).ok());
    EXPECT_EQ(previous, 0u) << "unchanged";
    ASSERT_TRUE(configure_gate(*conn, k_publish_gate, 20, 300ms, previous).ok());
    EXPECT_EQ(previous, 10u);
    EXPECT_EQ(acquire(*conn, "i-a", 30).tokens, 20u);
}

}  // namespace
}  // namespace raregen::rate
