#include "storage/keys/nonces.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "tests/storage/keys/keys_test_util.h"
#include "tests/storage/pg/pg_test_env.h"

namespace raregen::keys {
namespace {

using namespace std::chrono_literals;
using pg::Connection;
using pg::testing::PgTest;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::hex_of;
using testing::test_key;

constexpr std::chrono::nanoseconds k_retention = 15min;

// prefix + i. (Not `"p" + std::to_string(i)`: GCC 12's -O3 -Wrestrict
// misfires on that form.)
std::string numbered(const char* prefix, int i) {
    std::string s(prefix);
    s += std::to_string(i);
    return s;
}

ingest::WallTime at_micros(std::int64_t us) {
    return ingest::WallTime{std::chrono::microseconds{us}};
}

class KeysNonces : public PgTest {
  protected:
    Connection migrated() {
        Connection c = connect(fresh_database());
        const pg::Status st = pg::migrate(c);
        EXPECT_TRUE(st.ok()) << st.message();
        return c;
    }
    // The database's now(), in microseconds since the Unix epoch.
    static std::int64_t db_now_us(Connection& c) {
        pg::Result r = c.exec("SELECT (extract(epoch FROM now()) * 1000000)::bigint");
        EXPECT_TRUE(r.ok()) << r.error();
        return r.int64(0, 0).value_or(0);
    }
    static void insert(Connection& c, const std::string& pubkey_hex, const std::string& nonce,
                       std::int64_t seen_at_us) {
        pg::Result r = c.exec_params(
            "INSERT INTO nonces (pubkey_hex, nonce, record_id, seen_at) "
            "VALUES ($1, $2, 'rec-' || $2, "
            "        'epoch'::timestamptz + $3::bigint * interval '1 microsecond')",
            pubkey_hex, nonce, seen_at_us);
        ASSERT_TRUE(r.ok()) << r.error();
    }
};

constexpr std::int64_t k_minute_us = 60'000'000;

TEST_F(KeysNonces, LoadsNoncesNewerThanTheRetentionOnly) {
    Connection c = migrated();
    const auto k0 = test_key(0);
    const auto k1 = test_key(1);
    const std::int64_t now = db_now_us(c);
    insert(c, hex_of(k0), "n-1min", now - 1 * k_minute_us);
    insert(c, hex_of(k0), "n-14min", now - 14 * k_minute_us);
    insert(c, hex_of(k1), "n-16min", now - 16 * k_minute_us);
    insert(c, hex_of(k1), "n-2h", now - 120 * k_minute_us);
    insert(c, hex_of(k1), "n-future", now + 30 * k_minute_us);  // a clock ahead of the DB's

    ingest::InMemoryNonceStore store(1024, k_retention);
    const NonceLoad load = load_recent_nonces(c, store, k_retention);
    ASSERT_TRUE(load.ok()) << load.error;
    EXPECT_EQ(load.loaded, 3u);
    EXPECT_EQ(load.invalid, 0u);
    EXPECT_EQ(load.duplicates, 0u);
    EXPECT_EQ(load.pages, 1u);
    EXPECT_FALSE(load.full);
    EXPECT_EQ(store.recorded_total(), 3u);

    // Each asked about at its own seen_at, where a loaded entry is live.
    EXPECT_TRUE(store.check(k0, "n-1min", at_micros(now - 1 * k_minute_us)));
    EXPECT_TRUE(store.check(k0, "n-14min", at_micros(now - 14 * k_minute_us)));
    EXPECT_TRUE(store.check(k1, "n-future", at_micros(now + 30 * k_minute_us)));
    EXPECT_FALSE(store.check(k1, "n-16min", at_micros(now - 16 * k_minute_us)));
    EXPECT_FALSE(store.check(k1, "n-2h", at_micros(now - 120 * k_minute_us)));
    // Per pubkey.
    EXPECT_FALSE(store.check(k1, "n-1min", at_micros(now)));

    // Recorded at seen_at exactly (not at load time): live through seen_at +
    // retention, forgotten one microsecond later.
    const std::int64_t seen = now - 1 * k_minute_us;
    const std::int64_t retention_us = 15 * k_minute_us;
    EXPECT_TRUE(store.check(k0, "n-1min", at_micros(seen + retention_us)));
    EXPECT_FALSE(store.check(k0, "n-1min", at_micros(seen + retention_us + 1)));
}

TEST_F(KeysNonces, PagesThroughMoreRowsThanOnePage) {
    Connection c = migrated();
    pg::Result r = c.exec_params(
        "INSERT INTO nonces (pubkey_hex, nonce, seen_at) "
        "SELECT $1, 'p' || i, now() - i * interval '1 second' FROM generate_series(1, 103) i",
        hex_of(test_key(0)));
    ASSERT_TRUE(r.ok()) << r.error();
    const std::int64_t now = db_now_us(c);

    ingest::InMemoryNonceStore store(1024, k_retention);
    const NonceLoad load = load_recent_nonces(c, store, k_retention, NonceLoadOptions{10});
    ASSERT_TRUE(load.ok()) << load.error;
    EXPECT_EQ(load.loaded, 103u);
    EXPECT_EQ(load.pages, 11u);
    for (int i = 1; i <= 103; ++i)
        EXPECT_TRUE(store.check(test_key(0), numbered("p", i), at_micros(now))) << i;
    EXPECT_FALSE(store.check(test_key(0), "p104", at_micros(now)));

    // The cursor was closed with its transaction: the connection is reusable.
    ingest::InMemoryNonceStore again(1024, k_retention);
    const NonceLoad second = load_recent_nonces(c, again, k_retention);
    ASSERT_TRUE(second.ok()) << second.error;
    EXPECT_EQ(second.loaded, 103u);
    EXPECT_EQ(second.pages, 1u);
}

TEST_F(KeysNonces, RowsWithAnInvalidPubkeyAreSkippedAndCounted) {
    Connection c = migrated();
    const std::int64_t now = db_now_us(c);
    insert(c, hex_of(test_key(0)), "good", now - k_minute_us);
    insert(c, "02abcd", "short-key", now - k_minute_us);
    insert(c, "04" + hex_of(test_key(1)).substr(2), "wrong-prefix", now - k_minute_us);

    ingest::InMemoryNonceStore store(1024, k_retention);
    const NonceLoad load = load_recent_nonces(c, store, k_retention);
    ASSERT_TRUE(load.ok()) << load.error;
    EXPECT_EQ(load.loaded, 1u);
    EXPECT_EQ(load.invalid, 2u);
    ASSERT_EQ(load.problems.size(), 2u);
    EXPECT_THAT(load.problems[0] + load.problems[1],
                AllOf(HasSubstr("short-key"), HasSubstr("wrong-prefix")));
    EXPECT_TRUE(store.check(test_key(0), "good", at_micros(now)));
}

TEST_F(KeysNonces, AFullStoreIsAnErrorSayingToRaiseTheCapacity) {
    Connection c = migrated();
    pg::Result r = c.exec_params(
        "INSERT INTO nonces (pubkey_hex, nonce, seen_at) "
        "SELECT $1, 'f' || i, now() FROM generate_series(1, 20) i",
        hex_of(test_key(0)));
    ASSERT_TRUE(r.ok()) << r.error();

    ingest::InMemoryNonceStore store(1, k_retention);  // 8 slots
    const NonceLoad load = load_recent_nonces(c, store, k_retention);
    EXPECT_FALSE(load.ok());
    EXPECT_TRUE(load.full);
    EXPECT_EQ(load.loaded, store.slot_count());
    EXPECT_THAT(load.error, AllOf(HasSubstr("full"), HasSubstr("raise the nonce capacity")));
}

// Loaded newest first, each at its own seen_at, no loaded entry pushes out
// another as expired, even when rows span more than the retention (a clock
// ahead of the database's). The store has exactly as many slots as rows.
TEST_F(KeysNonces, RowsSpanningMoreThanTheRetentionAllStay) {
    Connection c = migrated();
    const std::int64_t now = db_now_us(c);
    for (int i = 0; i < 4; ++i) {
        insert(c, hex_of(test_key(0)), numbered("old", i), now - 14 * k_minute_us);
        insert(c, hex_of(test_key(0)), numbered("new", i), now + 20 * k_minute_us);
    }
    ingest::InMemoryNonceStore store(1, k_retention);  // 8 slots, one probe window
    ASSERT_EQ(store.slot_count(), 8u);
    const NonceLoad load = load_recent_nonces(c, store, k_retention);
    ASSERT_TRUE(load.ok()) << load.error;
    EXPECT_EQ(load.loaded, 8u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_TRUE(store.check(test_key(0), numbered("old", i), at_micros(now - 14 * k_minute_us)))
            << i;
        EXPECT_TRUE(store.check(test_key(0), numbered("new", i), at_micros(now + 20 * k_minute_us)))
            << i;
    }
}

TEST_F(KeysNonces, RefusesBadArguments) {
    Connection c = migrated();
    ingest::InMemoryNonceStore store(16, k_retention);
    EXPECT_THAT(load_recent_nonces(c, store, std::chrono::nanoseconds{0}).error,
                HasSubstr("retention must be positive"));
    EXPECT_THAT(load_recent_nonces(c, store, k_retention, NonceLoadOptions{0}).error,
                HasSubstr("page_rows"));
}

TEST_F(KeysNonces, LoadFailsWithoutTheTable) {
    Connection c = connect(fresh_database());  // not migrated
    ingest::InMemoryNonceStore store(16, k_retention);
    const NonceLoad load = load_recent_nonces(c, store, k_retention);
    EXPECT_FALSE(load.ok());
    EXPECT_FALSE(load.full);
    EXPECT_THAT(load.error, AllOf(HasSubstr("nonces"), HasSubstr("migrated")));
}

}  // namespace
}  // namespace raregen::keys
