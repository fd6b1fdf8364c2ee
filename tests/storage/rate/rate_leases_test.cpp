// The shared rate limit's slices against a real PostgreSQL 15: sessions
// standing for engines never hold more than the capacity together; a
// settled slice counts for one period more, an unspent one goes back at
// once; a dead engine's slice is settled by the next acquire and returns a
// period later.

#include "storage/rate/rate_leases.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "storage/jobs/job_store.h"
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

    // Holds `instance`'s liveness lock, as a running engine does.
    pg::Connection alive(const std::string& instance) {
        pg::Connection c = connect(db);
        pg::Result r =
            c.exec_params("SELECT pg_advisory_lock($1, hashtext($2))",
                          static_cast<std::int64_t>(jobs::k_instance_lock_class), instance);
        EXPECT_TRUE(r.ok()) << r.error();
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
    ASSERT_TRUE(settle_slice(*conn, a1.lease_id, 5).ok());
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
    ASSERT_TRUE(shrink_slice(*conn, a.lease_id, 3).ok());
    EXPECT_EQ(outstanding(), 3);
    EXPECT_EQ(acquire(*conn, "i-b", 10).tokens, 7u);
    // Nothing spent: the slice is gone.
    const pg::Status st = shrink_slice(*conn, a.lease_id, 0);
    EXPECT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(outstanding(), 7);
}

TEST_F(RateLeases, ADeadEnginesSliceIsSettledByTheNextAcquireAndReturnsAPeriodLater) {
    pg::Connection b_lock = alive("i-b");
    std::optional<pg::Connection> dead_lock(alive("i-dead"));
    EXPECT_EQ(acquire(*conn, "i-dead", 10).tokens, 10u);
    const Slice while_alive = acquire(*conn, "i-b", 5);
    EXPECT_EQ(while_alive.tokens, 0u);
    EXPECT_EQ(while_alive.reaped, 0u) << "a live engine's slice was taken";
    dead_lock.reset();  // the engine dies: its session and lock are gone
    // The session's end reaches the server asynchronously.
    Slice s;
    for (int i = 0; i < 100 && s.reaped == 0; ++i) {
        s = acquire(*conn, "i-b", 5);
        if (s.reaped == 0) std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(s.reaped, 1u);
    EXPECT_EQ(s.tokens, 0u) << "its tokens may still be reaching the network";
    EXPECT_GE(s.next_return, 0ms);
    EXPECT_LE(s.next_return, 300ms);
    std::this_thread::sleep_for(s.next_return + 50ms);
    EXPECT_EQ(acquire(*conn, "i-b", 5).tokens, 5u);
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
