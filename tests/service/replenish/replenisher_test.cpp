// The replenisher against a real PostgreSQL 15 and the local ARC network on
// loopback: a pass under the floor splits funding into publish UTXOs that
// reach `utxos` only once the network holds their transaction; every
// funding satoshi is accounted for; a split recorded before a crash is sent
// again (the same bytes), never remade from its funding; a refusal returns
// the funding marked dirty; short funding makes what it can and says so; one
// pass at a time across sessions; the thread refills a pool being spent.

#include "service/replenish/replenisher.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "engine/chain/split.h"
#include "engine/chain/tx.h"
#include "storage/pg/migrations.h"
#include "storage/pool/split_store.h"
#include "storage/pool/utxo_pool.h"
#include "tests/storage/pg/pg_test_env.h"
#include "tests/tools/network/network_test_util.h"

namespace raregen::service {
namespace {

namespace nt = network::test;
using pg::testing::PgTest;

std::int64_t one_int(pg::Connection& c, const std::string& sql) {
    pg::Result r = c.exec(sql);
    EXPECT_TRUE(r.ok()) << r.error() << "\n" << sql;
    if (!r.ok() || r.rows() != 1 || r.is_null(0, 0)) return -1;
    return r.int64(0, 0).value_or(-1);
}

class ReplenishTest : public PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        db = fresh_database();
        conn.emplace(connect(db));
        ASSERT_TRUE(pg::migrate(*conn).ok());
    }

    // Funds the wallet on the network with `outputs` outputs of `sats` and
    // imports them as 'funding' rows (script '' : the key's own).
    std::vector<chain::Utxo> add_funding(std::int64_t sats, int outputs = 1) {
        std::vector<chain::Utxo> f = nt::fund(t.url, w, sats, outputs);
        std::vector<pool::ImportUtxo> rows;
        for (const chain::Utxo& u : f)
            rows.push_back(pool::ImportUtxo{u, std::nullopt, std::nullopt});
        const auto r = pool::import_utxos(*conn, rows, pool::Purpose::funding);
        EXPECT_TRUE(r.ok()) << r.status.message();
        return f;
    }

    // A split of 40 outputs of 100 sat from `funding`, signed as the
    // replenisher would and recorded (bytes written, funding spent), as a
    // process that crashed before or after sending it leaves it.
    pool::SplitRecord recorded_split(const chain::Utxo& funding, chain::Bytes& ef) {
        const chain::SplitResult s = chain::build_split(w.key, funding, 40, 100, {});
        EXPECT_TRUE(s.ok()) << s.error;
        ef.clear();
        chain::serialize(s.tx, chain::TxFormat::extended, ef);
        pool::SplitRecord rec;
        rec.txid = chain::hash_to_display(s.txid);
        rec.funding = funding;
        rec.outputs = 40;
        rec.each = 100;
        rec.change = s.change;
        rec.fee = s.fee;
        rec.raw.assign(ef.begin(), ef.end());
        const pg::Status st = pool::record_split(*conn, rec, "crashed");
        EXPECT_TRUE(st.ok()) << st.message();
        return rec;
    }

    ReplenishTarget target() const {
        ReplenishTarget tg{w.key, t.url, "", chain::FeeRate{}, "test"};
        return tg;
    }

    ReplenishSettings settings(std::size_t min_pool, std::size_t batch, std::size_t per_tx) {
        ReplenishSettings s;
        s.min_pool = min_pool;
        s.split_batch = batch;
        s.per_tx = per_tx;
        s.attempts = 3;
        return s;
    }

    // Every accepted split balances and is held by the network; every
    // publish output in the table belongs to an accepted split.
    void expect_ledger_consistent() {
        pg::Result r = conn->exec(
            "SELECT txid, outputs * each_satoshis + change_satoshis + fee - funding_satoshis "
            "FROM raregen_splits WHERE status = 'accepted'");
        ASSERT_TRUE(r.ok()) << r.error();
        for (int i = 0; i < r.rows(); ++i) {
            EXPECT_EQ(r.int64(i, 1), 0) << r.text(i, 0);
            EXPECT_EQ(nt::get(t.url + "/v1/tx/" + std::string(r.text(i, 0))).status, 200)
                << r.text(i, 0);
        }
        EXPECT_EQ(one_int(*conn,
                          "SELECT count(*) FROM utxos u WHERE purpose IN ('publish', 'change') "
                          "AND NOT EXISTS (SELECT 1 FROM raregen_splits s WHERE s.txid = u.txid "
                          "AND s.status = 'accepted')"),
                  0);
        // No funding output is spent by two splits that were not refused.
        EXPECT_EQ(one_int(*conn,
                          "SELECT count(*) FROM (SELECT funding_txid, funding_vout FROM "
                          "raregen_splits WHERE status <> 'refused' GROUP BY 1, 2 "
                          "HAVING count(*) > 1) d"),
                  0);
    }

    nt::TestNet t;
    nt::Wallet w;
    std::string db;
    std::optional<pg::Connection> conn;
};

TEST_F(ReplenishTest, UnderTheFloorAPassSplitsFundingIntoAcceptedPublishOutputs) {
    const auto funding = add_funding(500'000);
    const PassReport r = replenish_pass(*conn, target(), settings(500, 1000, 300));
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_TRUE(r.ran);
    EXPECT_TRUE(r.split_wanted);
    EXPECT_FALSE(r.funding_short);
    EXPECT_EQ(r.depth_before, 0u);
    EXPECT_EQ(r.depth_after, 1000u);
    EXPECT_EQ(r.transactions, 4u);  // 300 + 300 + 300 + 100
    EXPECT_EQ(r.outputs, 1000u);
    EXPECT_EQ(pool::publish_depth(*conn).value, 1000u);
    EXPECT_EQ(one_int(*conn, "SELECT count(*) FROM raregen_splits WHERE status = 'accepted'"), 4);
    // The funding output is spent by the first split; each later split
    // spends the previous one's change; one change output is left.
    EXPECT_EQ(one_int(*conn,
                      "SELECT count(*) FROM utxos WHERE purpose = 'funding' AND status = 'spent' "
                      "AND spent_by_txid IN (SELECT txid FROM raregen_splits)"),
              1);
    EXPECT_EQ(one_int(*conn,
                      "SELECT count(*) FROM utxos WHERE purpose = 'change' AND status = "
                      "'available'"),
              1);
    // Every satoshi accounted for: outputs + change left + fees = funding.
    EXPECT_EQ(one_int(*conn,
                      "SELECT (SELECT sum(satoshis) FROM utxos WHERE purpose = 'publish') + "
                      "(SELECT sum(satoshis) FROM utxos WHERE purpose = 'change' AND status = "
                      "'available') + (SELECT sum(fee) FROM raregen_splits)"),
              funding[0].value);
    EXPECT_EQ(static_cast<std::int64_t>(r.fees),
              one_int(*conn, "SELECT sum(fee) FROM raregen_splits"));
    EXPECT_GT(r.funding_satoshis, 0);
    expect_ledger_consistent();

    // At the floor now: the next pass splits nothing.
    const PassReport again = replenish_pass(*conn, target(), settings(500, 1000, 300));
    EXPECT_TRUE(again.error.empty()) << again.error;
    EXPECT_FALSE(again.split_wanted);
    EXPECT_EQ(again.transactions, 0u);
}

TEST_F(ReplenishTest, OnlyOnePassAtATimeAcrossSessions) {
    add_funding(100'000);
    pg::Connection other = connect(db);
    ASSERT_TRUE(pool::try_lock_replenisher(other).value);
    const PassReport r = replenish_pass(*conn, target(), settings(10, 10, 10));
    EXPECT_FALSE(r.ran);
    EXPECT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(pool::publish_depth(*conn).value, 0u);
    // What the engine holding the lock has to split with is still read.
    EXPECT_TRUE(r.funding_read);
    EXPECT_EQ(r.funding_satoshis, 100'000);

    // A second engine's thread stands by: healthy, and its batch pool stays
    // open while funding is there for the other one to split.
    Replenisher standby(db, target(), settings(10, 10, 10), [] { return std::uint64_t{0}; }, {});
    standby.start();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (standby.health().state == "starting" && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const Replenisher::Health h = standby.health();
    standby.stop();
    EXPECT_EQ(h.state, "standby") << h.last_error;
    EXPECT_TRUE(h.ok);
    EXPECT_EQ(h.funding_satoshis, 100'000);
    EXPECT_TRUE(standby.may_supply());
    ASSERT_TRUE(pool::unlock_replenisher(other).ok());
    const PassReport mine = replenish_pass(*conn, target(), settings(10, 10, 10));
    EXPECT_TRUE(mine.ran);
    EXPECT_EQ(mine.outputs, 10u);
}

// A split recorded and then lost to a crash, before and after its send: the
// next pass sends the recorded bytes (the network takes them or already
// has them) and adds its outputs; no second transaction from that funding.
TEST_F(ReplenishTest, ASplitRecordedBeforeACrashIsSettledByTxidNotRemade) {
    for (const bool sent_before_crash : {false, true}) {
        SCOPED_TRACE(sent_before_crash ? "sent before the crash" : "crashed before sending");
        const auto funding = add_funding(50'000);
        chain::Bytes ef;
        const pool::SplitRecord rec = recorded_split(funding[0], ef);
        // Recorded once: the funding is no longer available to a second split.
        EXPECT_EQ(pool::record_split(*conn, rec, "crashed").sqlstate(), "P0002");
        if (sent_before_crash) {
            const auto posted = nt::post(t.url + "/v1/tx", nt::bin(ef), nt::k_bin);
            ASSERT_EQ(posted.status, 200) << posted.body;
        }
        EXPECT_EQ(pool::publish_depth(*conn).value, 0u) << "outputs before ARC accepted";

        const PassReport r = replenish_pass(*conn, target(), settings(0, 0, 10));
        ASSERT_TRUE(r.error.empty()) << r.error;
        EXPECT_EQ(r.resumed_accepted, 1u);
        EXPECT_EQ(r.transactions, 0u);
        EXPECT_EQ(pool::publish_depth(*conn).value, 40u);
        EXPECT_EQ(nt::get(t.url + "/v1/tx/" + rec.txid).status, 200);
        EXPECT_EQ(one_int(*conn, "SELECT count(*) FROM raregen_splits WHERE funding_txid = '" +
                                     chain::hash_to_display(funding[0].outpoint.txid) + "'"),
                  1);
        expect_ledger_consistent();
        ASSERT_TRUE(conn->exec("DELETE FROM utxos; DELETE FROM raregen_splits").ok());
    }
}

TEST_F(ReplenishTest, ARefusedSplitReturnsItsFundingMarkedDirtyAndAddsNothing) {
    // A network that refuses every transaction (REJECTED, not stored).
    network::NetworkOptions o = nt::test_options();
    o.faults.reject_share = 1.0;
    nt::TestNet refusing(o);
    const auto funding = nt::fund(refusing.url, w, 80'000, 1);
    pool::ImportUtxo row{funding[0], std::nullopt, std::nullopt};
    ASSERT_TRUE(pool::import_utxos(*conn, std::span(&row, 1), pool::Purpose::funding).ok());
    ReplenishTarget tg = target();
    tg.arc_url = refusing.url;
    const PassReport r = replenish_pass(*conn, tg, settings(10, 10, 10));
    EXPECT_FALSE(r.error.empty());
    EXPECT_EQ(r.outputs, 0u);
    EXPECT_EQ(pool::publish_depth(*conn).value, 0u);
    EXPECT_EQ(one_int(*conn, "SELECT count(*) FROM raregen_splits WHERE status = 'refused'"), 1);
    EXPECT_EQ(one_int(*conn,
                      "SELECT count(*) FROM utxos WHERE purpose = 'funding' AND status = "
                      "'available' AND dirty"),
              1);
    // Not picked again: the next pass finds no usable funding.
    const PassReport next = replenish_pass(*conn, tg, settings(10, 10, 10));
    EXPECT_TRUE(next.error.empty()) << next.error;
    EXPECT_TRUE(next.funding_short);
    EXPECT_EQ(one_int(*conn, "SELECT count(*) FROM raregen_splits"), 1);
    // An operator clears the mark: the same funding makes the same
    // transaction (deterministic signatures), recorded over the refused row
    // and refused again, not a database error.
    ASSERT_TRUE(conn->exec("UPDATE utxos SET dirty = false WHERE purpose = 'funding'").ok());
    const PassReport again = replenish_pass(*conn, tg, settings(10, 10, 10));
    EXPECT_TRUE(again.split_refused) << again.error;
    EXPECT_EQ(again.error.find("recording"), std::string::npos) << again.error;
    EXPECT_EQ(one_int(*conn, "SELECT count(*) FROM raregen_splits WHERE status = 'refused'"), 1);
    EXPECT_EQ(one_int(*conn,
                      "SELECT count(*) FROM utxos WHERE purpose = 'funding' AND status = "
                      "'available' AND dirty"),
              1);
}

// A split recorded by a process that crashed, and ARC with no verdict (503
// to everything): the pass stops there and splits nothing new; the thread
// retrying it stops when asked, between attempts, not after all of them.
TEST_F(ReplenishTest, ASplitWithoutAVerdictHoldsThePassAndDoesNotHoldUpStop) {
    const auto funding = add_funding(50'000);
    add_funding(50'000);  // more funding, which must not be touched meanwhile
    chain::Bytes ef;
    const pool::SplitRecord rec = recorded_split(funding[0], ef);

    network::NetworkOptions o = nt::test_options();
    o.faults.fail = {{503, 1.0}};
    nt::TestNet down(o);
    ReplenishTarget tg = target();
    tg.arc_url = down.url;
    const PassReport r = replenish_pass(*conn, tg, settings(10, 10, 10));
    EXPECT_TRUE(r.split_pending);
    EXPECT_NE(r.error.find(rec.txid), std::string::npos) << r.error;
    EXPECT_EQ(r.transactions, 0u);
    EXPECT_EQ(one_int(*conn, "SELECT count(*) FROM raregen_splits"), 1);
    EXPECT_EQ(one_int(*conn, "SELECT count(*) FROM raregen_splits WHERE status = 'signed'"), 1);
    EXPECT_EQ(pool::publish_depth(*conn).value, 0u);

    ReplenishSettings slow = settings(10, 10, 10);
    slow.attempts = 100;  // minutes of backoff if stop() waited for them
    slow.stop_grace = std::chrono::milliseconds(300);
    Replenisher rep(db, tg, slow, [] { return std::uint64_t{0}; }, {});
    rep.start();
    const auto seen = [&] { return down.net->stats()["requests"].get<std::uint64_t>(); };
    const std::uint64_t before = seen();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (seen() < before + 3 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_GE(seen(), before + 3) << "the thread did not retry the pending split";
    rep.stop();
    const Replenisher::Health h = rep.health();
    EXPECT_EQ(h.state, "split_pending") << h.last_error;
    EXPECT_FALSE(h.ok);
    EXPECT_NE(h.last_error.find("stopped before ARC gave a verdict"), std::string::npos)
        << h.last_error;
    EXPECT_LT(seen(), before + 2 * 100) << "stop() waited for every attempt";
    EXPECT_EQ(one_int(*conn, "SELECT count(*) FROM raregen_splits WHERE status = 'signed'"), 1);
}

TEST_F(ReplenishTest, ShortFundingMakesWhatItCanAndSaysSo) {
    const auto funding = add_funding(5'000);
    const PassReport r = replenish_pass(*conn, target(), settings(1000, 1000, 100));
    EXPECT_TRUE(r.error.empty()) << r.error;
    EXPECT_TRUE(r.funding_short);
    EXPECT_GT(r.outputs, 40u);
    EXPECT_LT(r.outputs, 50u);
    EXPECT_EQ(pool::publish_depth(*conn).value, r.outputs);
    expect_ledger_consistent();
    // Adding funding lets the next pass go on.
    add_funding(200'000);
    const PassReport more = replenish_pass(*conn, target(), settings(1000, 1000, 100));
    EXPECT_TRUE(more.error.empty()) << more.error;
    EXPECT_FALSE(more.funding_short);
    EXPECT_EQ(more.outputs, 1000u);
}

// Many small transactions each pay their own input and change: funding that
// runs short is still "short", never a transaction that cannot be built.
TEST_F(ReplenishTest, ShortFundingInSmallTransactionsIsShortNotAnError) {
    add_funding(5'000);
    const PassReport r = replenish_pass(*conn, target(), settings(1000, 1000, 10));
    EXPECT_TRUE(r.error.empty()) << r.error;
    EXPECT_TRUE(r.funding_short);
    EXPECT_GT(r.outputs, 30u);
    EXPECT_LT(r.outputs, 50u);
    EXPECT_EQ(pool::publish_depth(*conn).value, r.outputs);
    expect_ledger_consistent();
}

TEST_F(ReplenishTest, FundingOfAnotherScriptIsNotSplit) {
    const auto funding = nt::fund(t.url, w, 100'000, 1);
    pool::ImportUtxo row{funding[0], std::string("76a914") + std::string(40, '0') + "88ac",
                         std::nullopt};
    ASSERT_TRUE(pool::import_utxos(*conn, std::span(&row, 1), pool::Purpose::funding).ok());
    const PassReport r = replenish_pass(*conn, target(), settings(10, 10, 10));
    EXPECT_TRUE(r.funding_short);
    EXPECT_EQ(r.outputs, 0u);
    EXPECT_EQ(one_int(*conn, "SELECT count(*) FROM raregen_splits"), 0);
}

// The thread: the pool is spent (rows marked spent by the test, the
// consumption counter moving) and refilled without a poke; health follows.
TEST_F(ReplenishTest, TheThreadRefillsAPoolBeingSpentAndReportsHealth) {
    add_funding(2'000'000);
    std::atomic<std::uint64_t> consumed{0};
    std::vector<std::string> lines;
    std::mutex mu;
    ReplenishSettings s = settings(200, 300, 100);
    s.check_interval = std::chrono::milliseconds(200);
    s.cooldown = std::chrono::milliseconds(0);
    Replenisher rep(
        db, target(), s, [&] { return consumed.load(); },
        [&](std::string_view l) {
            std::lock_guard lock(mu);
            lines.emplace_back(l);
        });
    rep.start();
    std::uint64_t spent = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (spent < 1500 && std::chrono::steady_clock::now() < deadline) {
        pg::Result r = conn->exec(
            "WITH s AS (SELECT txid, vout FROM utxos WHERE purpose = 'publish' AND status = "
            "'available' LIMIT 50) UPDATE utxos u SET status = 'spent' FROM s WHERE u.txid = "
            "s.txid AND u.vout = s.vout");
        ASSERT_TRUE(r.ok()) << r.error();
        spent += r.affected_rows();
        consumed.store(spent);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_GE(spent, 1500u) << "the pool was not refilled while spent";
    const auto deadline2 = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (rep.health().state != "ok" && std::chrono::steady_clock::now() < deadline2)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const Replenisher::Health h = rep.health();
    rep.stop();
    EXPECT_EQ(h.state, "ok") << h.last_error;
    EXPECT_TRUE(h.ok);
    EXPECT_GE(h.splits, 15u);
    EXPECT_GT(h.funding_satoshis, 0);
    EXPECT_TRUE(rep.may_supply());
    std::lock_guard lock(mu);
    bool logged_split = false;
    for (const std::string& l : lines)
        logged_split = logged_split || l.find("split transactions made") != std::string::npos;
    EXPECT_TRUE(logged_split);
    expect_ledger_consistent();
}

TEST_F(ReplenishTest, TheThreadSaysWhenFundingIsExhausted) {
    add_funding(3'000);
    std::vector<std::string> lines;
    std::mutex mu;
    ReplenishSettings s = settings(1000, 1000, 100);
    s.check_interval = std::chrono::milliseconds(100);
    Replenisher rep(
        db, target(), s, [] { return std::uint64_t{0}; },
        [&](std::string_view l) {
            std::lock_guard lock(mu);
            lines.emplace_back(l);
        });
    rep.start();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (rep.health().state != "funding_exhausted" && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(rep.health().state, "funding_exhausted");
    EXPECT_FALSE(rep.health().ok);
    // Nothing left to split: a batch run's pool may close.
    while (rep.may_supply() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(rep.may_supply());
    // Adding funding is picked up at a later check, without a restart.
    add_funding(500'000);
    const auto deadline2 = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (rep.health().state != "ok" && std::chrono::steady_clock::now() < deadline2)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const Replenisher::Health h = rep.health();
    rep.stop();
    EXPECT_EQ(h.state, "ok") << h.last_error;
    EXPECT_GE(pool::publish_depth(*conn).value, 1000u);
    std::lock_guard lock(mu);
    bool told = false;
    for (const std::string& l : lines)
        told = told || (l.find("funding exhausted") != std::string::npos &&
                        l.find("raregen utxos import --purpose funding") != std::string::npos);
    EXPECT_TRUE(told);
}

}  // namespace
}  // namespace raregen::service
