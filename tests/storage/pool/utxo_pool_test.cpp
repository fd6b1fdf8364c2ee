#include "storage/pool/utxo_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/storage/pool/pool_test_util.h"

namespace raregen::pool {
namespace {

using namespace std::chrono_literals;
using testing::key_of;
using testing::make_utxo;
using testing::PoolTest;

constexpr auto k_lease = std::chrono::milliseconds(std::chrono::minutes(5));
const std::string k_spender(64, 'e');

TEST(Purpose, NamesRoundTrip) {
    for (const Purpose p : {Purpose::publish, Purpose::funding, Purpose::change})
        EXPECT_EQ(parse_purpose(purpose_name(p)), p);
    EXPECT_FALSE(parse_purpose("Publish"));
    EXPECT_FALSE(parse_purpose(""));
}

TEST_F(PoolTest, LeaseMarksRowsReservedForTheInstance) {
    seed(0, 10);
    const auto r = lease_utxos(conn(), "engine-a", 4, k_lease);
    ASSERT_TRUE(r.ok()) << r.status.message();
    ASSERT_EQ(r.value.size(), 4u);
    for (std::size_t i = 1; i < r.value.size(); ++i)
        EXPECT_LT(key_of(r.value[i - 1]), key_of(r.value[i])) << "returned sorted by (txid, vout)";
    for (const auto& u : r.value) {
        EXPECT_EQ(u.value, 100);
        EXPECT_EQ(column_of(u, "status"), "reserved");
        EXPECT_EQ(column_of(u, "leased_by"), "engine-a");
        EXPECT_EQ(column_of(u, "lease_until = reserved_until"), "t");
        EXPECT_EQ(column_of(u, "lease_until > now() + interval '4 minutes'"), "t");
        EXPECT_EQ(column_of(u, "reserved_at IS NOT NULL"), "t");
    }
    EXPECT_EQ(count_where("status = 'reserved' AND leased_by = 'engine-a'"), 4);
    EXPECT_EQ(count_where("status = 'available'"), 6);
    // The outpoints are the imported ones, intact.
    std::set<std::string> seeded;
    for (std::uint64_t i = 0; i < 10; ++i)
        seeded.insert(key_of(make_utxo(i)));
    for (const auto& u : r.value)
        EXPECT_TRUE(seeded.count(key_of(u))) << key_of(u);

    const auto rest = lease_utxos(conn(), "engine-b", 100, k_lease);
    ASSERT_TRUE(rest.ok());
    EXPECT_EQ(rest.value.size(), 6u);
    const auto none = lease_utxos(conn(), "engine-b", 100, k_lease);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none.value.empty());
}

TEST_F(PoolTest, LeaseSkipsDirtyOtherPurposesSpentAndReserved) {
    seed(0, 4);                     // publish: 0..3
    seed(10, 2, Purpose::funding);  // never leased
    seed(20, 2, Purpose::change);   // never leased
    ASSERT_TRUE(conn()
                    .exec_params("UPDATE utxos SET dirty = true WHERE txid = $1 AND vout = $2",
                                 testing::display_txid(make_utxo(0)), std::int64_t{0})
                    .ok());
    ASSERT_TRUE(conn()
                    .exec_params("UPDATE utxos SET status = 'spent' WHERE txid = $1",
                                 testing::display_txid(make_utxo(1)))
                    .ok());
    // Reserved by the RareGen service (no leased_by).
    ASSERT_TRUE(conn()
                    .exec_params("UPDATE utxos SET status = 'reserved' WHERE txid = $1",
                                 testing::display_txid(make_utxo(2)))
                    .ok());
    const auto r = lease_utxos(conn(), "engine-a", 100, k_lease);
    ASSERT_TRUE(r.ok()) << r.status.message();
    ASSERT_EQ(r.value.size(), 1u);
    EXPECT_EQ(key_of(r.value[0]), key_of(make_utxo(3)));
    EXPECT_EQ(count_where("purpose <> 'publish' AND status = 'available' AND leased_by IS NULL"),
              4);
    const auto has = has_available(conn());
    ASSERT_TRUE(has.ok());
    EXPECT_FALSE(has.value);
}

// Only outputs of the publish value are leased: a publication spends its
// whole input, so the old service's split change (recorded as 'publish')
// would be burnt as fee. Status counts such rows as funding.
TEST_F(PoolTest, OnlyOutputsOfThePublishValueAreLeased) {
    seed(0, 3);
    ASSERT_TRUE(conn()
                    .exec_params("UPDATE utxos SET satoshis = $2 WHERE txid = $1",
                                 testing::display_txid(make_utxo(1)), std::int64_t{961'722})
                    .ok());
    ASSERT_TRUE(conn()
                    .exec_params("UPDATE utxos SET satoshis = 99 WHERE txid = $1",
                                 testing::display_txid(make_utxo(2)))
                    .ok());
    const auto st = pool_status(conn());
    ASSERT_TRUE(st.ok()) << st.status.message();
    EXPECT_EQ(st.value.leasable, 1u);
    EXPECT_EQ(st.value.oversized, 1u);
    EXPECT_EQ(st.value.oversized_satoshis, 961'722);
    const auto r = lease_utxos(conn(), "engine-a", 100, k_lease);
    ASSERT_TRUE(r.ok()) << r.status.message();
    ASSERT_EQ(r.value.size(), 1u);
    EXPECT_EQ(key_of(r.value[0]), key_of(make_utxo(0)));
    // Another publish value (configurable) leases only its own outputs.
    const auto other = lease_utxos(conn(), "engine-b", 100, k_lease, 99);
    ASSERT_TRUE(other.ok()) << other.status.message();
    ASSERT_EQ(other.value.size(), 1u);
    EXPECT_EQ(key_of(other.value[0]), key_of(make_utxo(2, 99)));
    EXPECT_EQ(count_where("satoshis = 961722 AND status = 'available' AND leased_by IS NULL"), 1);
}

TEST_F(PoolTest, ConcurrentLeasesNeverShareARow) {
    constexpr std::uint64_t k_rows = 2000;
    seed(0, k_rows);
    constexpr int k_threads = 4;
    std::vector<std::vector<chain::Utxo>> got(k_threads);
    std::vector<std::string> errors(k_threads);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([&, t] {
            try {
                pg::Connection c = pg::Connection::connect(m_conninfo);
                const std::string id = "engine-" + std::to_string(t);
                ready.fetch_add(1);
                while (ready.load() < k_threads)
                    std::this_thread::yield();
                for (;;) {
                    const auto r = lease_utxos(c, id, 7 + static_cast<std::size_t>(t), k_lease);
                    if (!r.ok()) {
                        errors[t] = r.status.message();
                        return;
                    }
                    if (r.value.empty()) return;
                    got[t].insert(got[t].end(), r.value.begin(), r.value.end());
                }
            } catch (const std::exception& e) {
                errors[t] = e.what();
                ready.fetch_add(1);
            }
        });
    }
    for (auto& th : threads)
        th.join();
    std::set<std::string> all;
    std::size_t total = 0;
    for (int t = 0; t < k_threads; ++t) {
        EXPECT_EQ(errors[t], "") << "thread " << t;
        total += got[t].size();
        for (const auto& u : got[t]) {
            EXPECT_TRUE(all.insert(key_of(u)).second) << key_of(u) << " leased twice";
            EXPECT_EQ(column_of(u, "leased_by"), "engine-" + std::to_string(t));
        }
    }
    EXPECT_EQ(total, k_rows);
    EXPECT_EQ(all.size(), k_rows);
    EXPECT_EQ(count_where("status = 'reserved'"), static_cast<std::int64_t>(k_rows));
    // More than one engine took part (each got rows), or the test proved little.
    int participants = 0;
    for (const auto& g : got)
        participants += g.empty() ? 0 : 1;
    EXPECT_GE(participants, 2);
}

TEST_F(PoolTest, RenewExtendsOnlyThisInstancesLeases) {
    seed(0, 6);
    ASSERT_EQ(lease_utxos(conn(), "engine-a", 3, 1min).value.size(), 3u);
    ASSERT_EQ(lease_utxos(conn(), "engine-b", 3, 1min).value.size(), 3u);
    const auto r = renew_leases(conn(), "engine-a", 1h);
    ASSERT_TRUE(r.ok()) << r.status.message();
    EXPECT_EQ(r.value, 3u);
    EXPECT_EQ(count_where("leased_by = 'engine-a' AND lease_until > now() + interval '50 minutes'"
                          " AND reserved_until = lease_until"),
              3);
    EXPECT_EQ(count_where("leased_by = 'engine-b' AND lease_until < now() + interval '2 minutes'"),
              3);
    EXPECT_EQ(renew_leases(conn(), "engine-c", 1h).value, 0u);
}

TEST_F(PoolTest, ReclaimDeadInstanceSplitsDurableSpendsFromTheRest) {
    seed(0, 8);
    const auto a = lease_utxos(conn(), "engine-a", 5, k_lease);
    ASSERT_EQ(a.value.size(), 5u);
    const auto b = lease_utxos(conn(), "engine-b", 3, k_lease);
    ASSERT_EQ(b.value.size(), 3u);
    // Two of engine-a's UTXOs have durable signed transactions.
    add_durable_job("job-1", a.value[0], k_spender);
    add_durable_job("job-2", a.value[3], std::string(64, 'f'));

    const auto r = reclaim_utxos(conn(), "engine-a");
    ASSERT_TRUE(r.ok()) << r.status.message();
    EXPECT_EQ(r.value.spent, 2u);
    EXPECT_EQ(r.value.available, 3u);
    EXPECT_EQ(column_of(a.value[0], "status"), "spent");
    EXPECT_EQ(column_of(a.value[0], "spent_by_txid"), k_spender);
    EXPECT_EQ(column_of(a.value[0], "spent_at IS NOT NULL"), "t");
    EXPECT_EQ(column_of(a.value[0], "leased_by IS NULL AND lease_until IS NULL"), "t");
    EXPECT_EQ(column_of(a.value[3], "spent_by_txid"), std::string(64, 'f'));
    for (const std::size_t i : {1u, 2u, 4u}) {
        const auto& u = a.value[i];
        EXPECT_EQ(column_of(u, "status"), "available");
        EXPECT_EQ(column_of(u,
                            "leased_by IS NULL AND lease_until IS NULL AND reserved_at IS NULL "
                            "AND reserved_until IS NULL AND spent_by_txid IS NULL"),
                  "t");
    }
    // engine-b untouched.
    EXPECT_EQ(count_where("leased_by = 'engine-b' AND status = 'reserved'"), 3);
    // Reclaimed rows lease again; spent ones never.
    const auto again = lease_utxos(conn(), "engine-c", 100, k_lease);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.value.size(), 3u);
    // Nothing left to reclaim for engine-a.
    const auto twice = reclaim_utxos(conn(), "engine-a");
    EXPECT_EQ(twice.value.spent + twice.value.available, 0u);
}

TEST_F(PoolTest, ReclaimExpiredTakesOnlyRunOutLeases) {
    seed(0, 6);
    const auto a = lease_utxos(conn(), "engine-a", 2, k_lease);
    ASSERT_EQ(a.value.size(), 2u);
    const auto b = lease_utxos(conn(), "engine-b", 4, k_lease);
    ASSERT_EQ(b.value.size(), 4u);
    // engine-b's leases ran out (set in the past rather than waited for).
    ASSERT_TRUE(
        conn()
            .exec("UPDATE utxos SET lease_until = now() - interval '1 second' WHERE leased_by = "
                  "'engine-b'")
            .ok());
    add_durable_job("job-1", b.value[1], k_spender);
    // A RareGen-service reservation with an old reserved_until is not ours to touch.
    seed(100, 1);
    ASSERT_TRUE(conn()
                    .exec_params("UPDATE utxos SET status = 'reserved', reserved_until = now() - "
                                 "interval '1 hour' WHERE txid = $1",
                                 testing::display_txid(make_utxo(100)))
                    .ok());

    const auto r = reclaim_expired(conn());
    ASSERT_TRUE(r.ok()) << r.status.message();
    EXPECT_EQ(r.value.spent, 1u);
    EXPECT_EQ(r.value.available, 3u);
    EXPECT_EQ(column_of(b.value[1], "status"), "spent");
    EXPECT_EQ(column_of(b.value[1], "spent_by_txid"), k_spender);
    EXPECT_EQ(count_where("leased_by = 'engine-a' AND status = 'reserved'"), 2);
    EXPECT_EQ(column_of(make_utxo(100), "status"), "reserved");
    EXPECT_EQ(count_where("status = 'available'"), 3);
}

TEST_F(PoolTest, ReleaseReturnsOnlyThisInstancesReservedRows) {
    seed(0, 10);
    const auto a = lease_utxos(conn(), "engine-a", 6, k_lease);
    ASSERT_EQ(a.value.size(), 6u);
    const auto b = lease_utxos(conn(), "engine-b", 2, k_lease);
    ASSERT_EQ(b.value.size(), 2u);
    add_durable_job("job-1", a.value[5], k_spender);

    std::vector<chain::Utxo> give_back(a.value.begin() + 2, a.value.end());  // 2..5
    give_back.push_back(b.value[0]);                                         // engine-b's: refused
    give_back.push_back(make_utxo(500));                                     // no such row
    const auto r = release_utxos(conn(), "engine-a", give_back);
    ASSERT_TRUE(r.ok()) << r.status.message();
    EXPECT_EQ(r.value, 3u);  // 2, 3, 4 (5 is spent by a durable job)
    for (const std::size_t i : {2u, 3u, 4u}) {
        EXPECT_EQ(column_of(a.value[i], "status"), "available");
        EXPECT_EQ(column_of(a.value[i], "leased_by IS NULL AND lease_until IS NULL"), "t");
    }
    EXPECT_EQ(column_of(a.value[5], "status"), "reserved");
    EXPECT_EQ(column_of(a.value[0], "status"), "reserved");
    EXPECT_EQ(column_of(b.value[0], "leased_by"), "engine-b");
    EXPECT_EQ(count_where("status = 'reserved'"), 5);
    // Empty release is a no-op.
    EXPECT_EQ(release_utxos(conn(), "engine-a", {}).value, 0u);
}

TEST_F(PoolTest, ImportIsIdempotentAndKeepsColumns) {
    std::vector<ImportUtxo> in = testing::make_imports(0, 5);
    in[0].script_pub_key = "76A914" + std::string(40, 'a') + "88ac";
    in[0].address = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT";
    const auto first = import_utxos(conn(), in, Purpose::funding);
    ASSERT_TRUE(first.ok()) << first.status.message();
    EXPECT_EQ(first.value.inserted, 5u);
    EXPECT_EQ(first.value.already_present, 0u);
    EXPECT_EQ(column_of(in[0].utxo, "script_pub_key"), "76a914" + std::string(40, 'a') + "88ac");
    EXPECT_EQ(column_of(in[0].utxo, "address"), "1BoatSLRHtKNngkdXEeobR76b53LETtpyT");
    EXPECT_EQ(column_of(in[1].utxo, "script_pub_key"), "");
    EXPECT_EQ(column_of(in[1].utxo, "address IS NULL"), "t");
    EXPECT_EQ(column_of(in[1].utxo, "purpose || status || dirty::text"), "fundingavailablefalse");

    // Again, plus 3 new ones and one repeated within the input.
    std::vector<ImportUtxo> more = testing::make_imports(3, 5);  // 3..7
    more.push_back(more.back());
    const auto second = import_utxos(conn(), more, Purpose::publish);
    ASSERT_TRUE(second.ok()) << second.status.message();
    EXPECT_EQ(second.value.inserted, 3u);
    EXPECT_EQ(second.value.already_present, 3u);
    EXPECT_EQ(count_where("true"), 8);
    EXPECT_EQ(column_of(make_utxo(3), "purpose"), "funding") << "existing rows untouched";

    // Batches larger than one statement.
    const auto big = testing::make_imports(1000, k_import_batch + 17);
    const auto third = import_utxos(conn(), big, Purpose::publish);
    ASSERT_TRUE(third.ok()) << third.status.message();
    EXPECT_EQ(third.value.inserted, k_import_batch + 17);
    EXPECT_EQ(count_where("true"), static_cast<std::int64_t>(8 + k_import_batch + 17));
}

TEST_F(PoolTest, ImportRefusesBadInputAsAWhole) {
    std::vector<ImportUtxo> in = testing::make_imports(0, 3);
    in[2].script_pub_key = "76zz";
    const auto r = import_utxos(conn(), in, Purpose::publish);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.status.message().find("not hex"), std::string::npos) << r.status.message();
    in[2].script_pub_key.reset();
    in[1].utxo.value = -1;
    EXPECT_FALSE(import_utxos(conn(), in, Purpose::publish).ok());
    EXPECT_EQ(count_where("true"), 0);
}

TEST_F(PoolTest, StatusCountsByPurposeStatusAndInstance) {
    seed(0, 10);
    seed(100, 4, Purpose::funding);
    ASSERT_TRUE(conn()
                    .exec_params("UPDATE utxos SET dirty = true WHERE txid = $1",
                                 testing::display_txid(make_utxo(9)))
                    .ok());
    ASSERT_EQ(lease_utxos(conn(), "engine-a", 3, k_lease).value.size(), 3u);
    ASSERT_EQ(lease_utxos(conn(), "engine-b", 2, k_lease).value.size(), 2u);
    ASSERT_TRUE(
        conn()
            .exec("UPDATE utxos SET lease_until = now() - interval '1 second' WHERE leased_by = "
                  "'engine-b'")
            .ok());

    const auto r = pool_status(conn());
    ASSERT_TRUE(r.ok()) << r.status.message();
    const PoolStatus& s = r.value;
    EXPECT_EQ(s.total, 14u);
    EXPECT_EQ(s.leasable, 4u);  // 10 - 5 leased - 1 dirty
    EXPECT_EQ(s.reserved_unleased, 0u);
    ASSERT_EQ(s.by_purpose_status.size(), 3u);
    EXPECT_EQ(s.by_purpose_status[0].purpose, "funding");
    EXPECT_EQ(s.by_purpose_status[0].status, "available");
    EXPECT_EQ(s.by_purpose_status[0].count, 4u);
    EXPECT_EQ(s.by_purpose_status[0].satoshis, 400);
    EXPECT_EQ(s.by_purpose_status[1].purpose, "publish");
    EXPECT_EQ(s.by_purpose_status[1].status, "available");
    EXPECT_EQ(s.by_purpose_status[1].count, 5u);
    EXPECT_EQ(s.by_purpose_status[1].dirty, 1u);
    EXPECT_EQ(s.by_purpose_status[2].status, "reserved");
    EXPECT_EQ(s.by_purpose_status[2].count, 5u);
    ASSERT_EQ(s.by_instance.size(), 2u);
    EXPECT_EQ(s.by_instance[0].instance_id, "engine-a");
    EXPECT_EQ(s.by_instance[0].reserved, 3u);
    EXPECT_EQ(s.by_instance[0].expired, 0u);
    EXPECT_EQ(s.by_instance[1].instance_id, "engine-b");
    EXPECT_EQ(s.by_instance[1].reserved, 2u);
    EXPECT_EQ(s.by_instance[1].expired, 2u);
}

TEST_F(PoolTest, FailuresAreReturnedNotThrown) {
    ASSERT_TRUE(conn().exec("DROP TABLE utxos CASCADE").ok());
    const auto r = lease_utxos(conn(), "engine-a", 5, k_lease);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.status.message().find("leasing UTXOs failed"), std::string::npos);
    EXPECT_EQ(r.status.sqlstate(), "42P01");
    EXPECT_FALSE(pool_status(conn()).ok());
    EXPECT_FALSE(lease_utxos(conn(), "", 5, k_lease).ok());
}

}  // namespace
}  // namespace raregen::pool
