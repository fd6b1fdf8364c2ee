// WriteBehind against a real PostgreSQL 15 (the embedded test cluster):
// what each fact writes, the watermark, refusals, the bound, a database that
// is not there yet, and idempotent replays.

#include "storage/writebehind/write_behind.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "engine/chain/bytes.h"
#include "storage/pg/migrations.h"
#include "tests/storage/pg/pg_test_env.h"

namespace raregen::writebehind {
namespace {

using namespace std::chrono_literals;
using model::FactKind;
using pg::testing::PgTest;

class WriteBehindTest : public PgTest {
  protected:
    std::string prepared_database(const std::string& suffix = "") {
        const std::string db = fresh_database(suffix);
        pg::Connection c = connect(db);
        pg::Status st = pg::migrate(c);
        EXPECT_TRUE(st.ok()) << st.message();
        return db;
    }
    static WriteBehindOptions options(const std::string& db, const std::string& me = "engine-a") {
        WriteBehindOptions o;
        o.conninfo = db;
        o.instance_id = me;
        o.batch_prefix = "t";
        return o;
    }
    // Waits (bounded, as a failure guard only) until everything emitted is durable.
    static bool wait_durable(const WriteBehind& wb, model::FactTicket t) {
        for (int i = 0; i < 3000 && wb.durable_through() < t; ++i)
            std::this_thread::sleep_for(10ms);
        return wb.durable_through() >= t;
    }
};

std::string canonical_for(std::uint64_t i) {
    return R"({"assetId":"a)" + std::to_string(i) +
           R"(","distribution":{"cdnUrl":"https://cdn.example/)" + std::to_string(i) +
           R"(","sha256":"ab"},"nonce":"n-)" + std::to_string(i) + R"(","recordId":"rec-)" +
           std::to_string(i) + R"("})";
}

model::Job job_for(std::uint64_t i) {
    model::Job j;
    j.intake_seq = i;
    for (std::size_t b = 0; b < 16; ++b)
        j.job_id.bytes[b] = static_cast<std::uint8_t>(i * 31 + b);
    j.job_id.bytes[6] = 0x40;
    const std::string rid = "rec-" + std::to_string(i);
    j.record_id.assign(rid);
    for (std::size_t b = 0; b < 32; ++b)
        j.record_hash[b] = static_cast<std::uint8_t>(i + b * 7);
    j.signer[0] = 0x02;
    j.signer[1] = static_cast<std::uint8_t>(i);
    j.batch_no = 1 + i / 10;
    j.batch_seq = static_cast<std::uint32_t>(i % 10 + 1);
    for (std::size_t b = 0; b < 32; ++b) {
        j.utxo.outpoint.txid[b] = static_cast<std::uint8_t>(0xa0 + b);
        j.txid[b] = static_cast<std::uint8_t>(i * 3 + b);
    }
    j.utxo.outpoint.vout = static_cast<std::uint32_t>(i);
    j.utxo.value = 100;
    const std::uint8_t raw[4] = {1, 2, static_cast<std::uint8_t>(i), 4};
    j.raw.assign(chain::ByteSpan(raw, 4));
    j.ef.assign(chain::ByteSpan(raw, 3));
    return j;
}

std::string scalar(pg::Connection& c, const std::string& sql) {
    pg::Result r = c.exec(sql);
    EXPECT_TRUE(r.ok()) << r.error();
    if (!r.ok() || r.rows() == 0) return "";
    return std::string(r.text(0, 0));
}

TEST_F(WriteBehindTest, EveryFactKindLandsInItsRowsAndTheWatermarkCoversIt) {
    const std::string db = prepared_database();
    WriteBehind wb(options(db));
    wb.start();
    constexpr std::uint64_t n = 30;
    model::FactTicket last = 0;
    for (std::uint64_t i = 1; i <= n; ++i) {
        model::Job j = job_for(i);
        const std::string canon = canonical_for(i);
        ASSERT_NE(wb.try_emit(FactKind::job_accepted, j, {}, canon), 0u);
        ASSERT_NE(wb.try_emit(FactKind::job_batched, j, {}), 0u);
        const model::FactTicket signed_ticket = wb.try_emit(FactKind::tx_signed, j, {});
        ASSERT_NE(signed_ticket, 0u);
        if (i % 3 == 0) {
            j.fail = model::FailCode::sink_refused;
            last = wb.try_emit(FactKind::job_failed, j, {});
        } else {
            ASSERT_NE(wb.try_emit(FactKind::tx_released, j, {}), 0u);
            last = wb.try_emit(FactKind::tx_sent, j, {});
        }
        ASSERT_NE(last, 0u);
    }
    model::Job closer;
    closer.batch_no = 1;
    closer.batch_seq = 9;
    last = wb.try_emit(FactKind::batch_closed, closer, {});
    ASSERT_TRUE(wait_durable(wb, last));
    ASSERT_TRUE(wb.stop());

    pg::Connection c = connect(db);
    EXPECT_EQ(scalar(c, "SELECT count(*) FROM publish_jobs WHERE instance_id = 'engine-a'"), "30");
    EXPECT_EQ(scalar(c, "SELECT count(*) FROM publish_jobs WHERE status = 'sent'"), "20");
    EXPECT_EQ(scalar(c,
                     "SELECT count(*) FROM publish_jobs WHERE status = 'failed' AND "
                     "error_code = 'sink_refused'"),
              "10");
    EXPECT_EQ(scalar(c, "SELECT count(*) FROM nonces"), "30");
    EXPECT_EQ(scalar(c, "SELECT count(*) FROM audit_log WHERE event = 'job_accepted'"), "30");
    EXPECT_EQ(scalar(c, "SELECT count(*) FROM publish_batches WHERE batch_id = 'b-t-1'"), "1");
    // Row of job 7: every column the facts set.
    const model::Job j7 = job_for(7);
    pg::Result r = c.exec_params(
        "SELECT record_id, record_hash, cdn_url, txid, encode(signed_tx, 'hex'), "
        "encode(ef_tx, 'hex'), spent_txid, spent_vout, processing_batch_id, batch_seq, "
        "intake_seq, attempts, sent_at IS NOT NULL FROM publish_jobs WHERE job_id = $1",
        j7.job_id.to_string());
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r.rows(), 1);
    EXPECT_EQ(r.text(0, 0), "rec-7");
    EXPECT_EQ(r.text(0, 1), chain::to_hex(chain::ByteSpan(j7.record_hash.data(), 32)));
    EXPECT_EQ(r.text(0, 2), "https://cdn.example/7");
    EXPECT_EQ(r.text(0, 3), chain::to_hex_reversed(chain::ByteSpan(j7.txid.data(), 32)));
    EXPECT_EQ(r.text(0, 4), "01020704");
    EXPECT_EQ(r.text(0, 5), "010207");
    EXPECT_EQ(r.text(0, 6),
              chain::to_hex_reversed(chain::ByteSpan(j7.utxo.outpoint.txid.data(), 32)));
    EXPECT_EQ(r.text(0, 7), "7");
    EXPECT_EQ(r.text(0, 8), "b-t-1");
    EXPECT_EQ(r.text(0, 9), "8");
    EXPECT_EQ(r.text(0, 10), "7");
    EXPECT_EQ(r.text(0, 11), "1");
    EXPECT_EQ(r.text(0, 12), "t");
    const WriteBehindStats s = wb.stats();
    EXPECT_EQ(s.durable, s.emitted);
    EXPECT_EQ(s.refused, 0u);
    EXPECT_GE(s.commits, 1u);
}

TEST_F(WriteBehindTest, SignedFactForAJobOwnedElsewhereIsRefused) {
    const std::string db = prepared_database();
    // Engine b accepted job 1 (and job 2 spends the same outpoint as job 1).
    {
        WriteBehind b(options(db, "engine-b"));
        b.start();
        const model::Job j = job_for(1);
        b.try_emit(FactKind::job_accepted, j, {}, canonical_for(1));
        const model::FactTicket t = b.try_emit(FactKind::tx_signed, j, {});
        ASSERT_TRUE(wait_durable(b, t));
        EXPECT_FALSE(b.refused(t));
        ASSERT_TRUE(b.stop());
    }
    WriteBehind a(options(db, "engine-a"));
    a.start();
    model::Job j1 = job_for(1);
    model::Job j2 = job_for(2);
    j2.utxo.outpoint = j1.utxo.outpoint;  // a UTXO already spent by b's job
    model::Job j3 = job_for(3);
    // A duplicate record: not inserted, and the fact is refused (whoever
    // waits for it must not acknowledge a second job).
    const model::FactTicket a1 = a.try_emit(FactKind::job_accepted, j1, {}, canonical_for(1));
    const model::FactTicket a2 = a.try_emit(FactKind::job_accepted, j2, {}, canonical_for(2));
    a.try_emit(FactKind::job_accepted, j3, {}, canonical_for(3));
    const model::FactTicket t1 = a.try_emit(FactKind::tx_signed, j1, {});
    const model::FactTicket t2 = a.try_emit(FactKind::tx_signed, j2, {});
    const model::FactTicket t3 = a.try_emit(FactKind::tx_signed, j3, {});
    ASSERT_TRUE(wait_durable(a, t3));
    EXPECT_TRUE(a.refused(a1));
    EXPECT_FALSE(a.refused(a2));
    EXPECT_TRUE(a.refused(t1));
    EXPECT_TRUE(a.refused(t2));
    EXPECT_FALSE(a.refused(t3));
    EXPECT_EQ(a.stats().refused, 3u);
    ASSERT_TRUE(a.stop());
    pg::Connection c = connect(db);
    EXPECT_EQ(scalar(c, "SELECT instance_id FROM publish_jobs WHERE record_id = 'rec-1'"),
              "engine-b");
    EXPECT_EQ(scalar(c, "SELECT count(*) FROM publish_jobs WHERE signed_tx IS NOT NULL"), "2");
}

TEST_F(WriteBehindTest, IsBoundedAndRefusesWhenFull) {
    const std::string db = prepared_database();
    WriteBehindOptions o = options(db);
    o.capacity = 8;
    WriteBehind wb(o);  // not started: nothing drains
    for (std::uint64_t i = 1; i <= 8; ++i)
        EXPECT_EQ(wb.try_emit(FactKind::job_accepted, job_for(i), {}, canonical_for(i)), i);
    EXPECT_EQ(wb.try_emit(FactKind::job_accepted, job_for(9), {}, canonical_for(9)), 0u);
    EXPECT_EQ(wb.stats().full, 1u);
    wb.start();
    ASSERT_TRUE(wait_durable(wb, 8));
    // Room again, and the ninth goes through.
    const model::FactTicket t =
        wb.try_emit(FactKind::job_accepted, job_for(9), {}, canonical_for(9));
    EXPECT_EQ(t, 9u);
    ASSERT_TRUE(wait_durable(wb, t));
    ASSERT_TRUE(wb.stop());
    pg::Connection c = connect(db);
    EXPECT_EQ(scalar(c, "SELECT count(*) FROM publish_jobs"), "9");
}

TEST_F(WriteBehindTest, UnreachableDatabaseKeepsEverythingUntilItAppears) {
    const std::string base = prepared_database("x");
    // A database name that does not exist yet: connections fail (3D000).
    const std::string missing = m_pg->conninfo_for("wb_later_" + std::to_string(::getpid()));
    WriteBehindOptions o = options(missing);
    o.retry_max = 100ms;
    WriteBehind wb(o);
    wb.start();
    model::FactTicket last = 0;
    for (std::uint64_t i = 1; i <= 40; ++i) {
        last = wb.try_emit(FactKind::job_accepted, job_for(i), {}, canonical_for(i));
        ASSERT_NE(last, 0u);
    }
    for (int i = 0; i < 500 && wb.healthy(); ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(wb.healthy());
    EXPECT_EQ(wb.durable_through(), 0u);
    EXPECT_FALSE(wb.stats().last_error.empty());
    // The database appears, tables after it: between the two the writer
    // meets "no such table", which must also be held and retried, not skipped.
    {
        pg::Connection admin = connect(m_pg->conninfo());
        pg::Result r = admin.exec("CREATE DATABASE wb_later_" + std::to_string(::getpid()));
        ASSERT_TRUE(r.ok()) << r.error();
        std::this_thread::sleep_for(300ms);
        pg::Connection c = connect(missing);
        pg::Status st = pg::migrate(c);
        ASSERT_TRUE(st.ok()) << st.message();
    }
    ASSERT_TRUE(wait_durable(wb, last));
    EXPECT_TRUE(wb.healthy());
    EXPECT_GE(wb.stats().retries, 1u);
    ASSERT_TRUE(wb.stop());
    pg::Connection c = connect(missing);
    EXPECT_EQ(scalar(c, "SELECT count(*) FROM publish_jobs"), "40");
    EXPECT_EQ(wb.stats().skipped, 0u);
    (void)base;
}

TEST_F(WriteBehindTest, AFactTheSchemaRejectsIsSkippedAloneAndTheRestCommits) {
    const std::string db = prepared_database();
    WriteBehind wb(options(db));
    model::Job bad = job_for(2);
    bad.batch_seq = 0;  // publish_jobs_batch_seq_check: batch_seq >= 1
    for (std::uint64_t i = 1; i <= 3; ++i)
        wb.try_emit(FactKind::job_accepted, job_for(i), {}, canonical_for(i));
    wb.try_emit(FactKind::job_batched, job_for(1), {});
    wb.try_emit(FactKind::job_batched, bad, {});
    const model::FactTicket last = wb.try_emit(FactKind::job_batched, job_for(3), {});
    wb.start();  // all six in one flush: it fails, then goes fact by fact
    ASSERT_TRUE(wait_durable(wb, last));
    EXPECT_EQ(wb.stats().skipped, 1u);
    EXPECT_TRUE(wb.healthy());
    ASSERT_TRUE(wb.stop());
    pg::Connection c = connect(db);
    EXPECT_EQ(scalar(c,
                     "SELECT string_agg(record_id || '=' || status, ',' ORDER BY record_id) "
                     "FROM publish_jobs"),
              "rec-1=processing_batch,rec-2=queued,rec-3=processing_batch");
}

TEST_F(WriteBehindTest, ReplayingTheSameFactsWritesNothingTwice) {
    const std::string db = prepared_database();
    for (int round = 0; round < 2; ++round) {
        WriteBehind wb(options(db));
        wb.start();
        model::FactTicket last = 0;
        for (std::uint64_t i = 1; i <= 20; ++i) {
            const model::Job j = job_for(i);
            wb.try_emit(FactKind::job_accepted, j, {}, canonical_for(i));
            wb.try_emit(FactKind::job_batched, j, {});
            last = wb.try_emit(FactKind::tx_signed, j, {});
        }
        ASSERT_TRUE(wait_durable(wb, last));
        // The second round's signed facts match the rows again: not refused.
        EXPECT_EQ(wb.stats().refused, 0u) << "round " << round;
        ASSERT_TRUE(wb.stop());
    }
    pg::Connection c = connect(db);
    EXPECT_EQ(scalar(c, "SELECT count(*) FROM publish_jobs"), "20");
    EXPECT_EQ(scalar(c, "SELECT count(*) FROM audit_log"), "20");
    EXPECT_EQ(scalar(c, "SELECT count(*) FROM nonces"), "20");
}

}  // namespace
}  // namespace raregen::writebehind
