// The monitoring queries (ops/sql, read by service/status) against a real
// PostgreSQL 15 whose tables the test fills as engines leave them: every
// part of the report against the rows it summarises, a batch with a job
// removed reported as not sequential, and `raregen status` itself (JSON,
// tables, --fail-on-broken, a missing DATABASE_URL).

#include "service/status/status.h"

#include <gtest/gtest.h>

#include <string>

#include "storage/pg/migrations.h"
#include "tests/storage/pg/pg_test_env.h"

namespace raregen::status {
namespace {

using pg::testing::PgTest;

class StatusTest : public PgTest {
  protected:
    // Two batches of three sent jobs, three failed jobs (two codes), one
    // job stuck sending for three minutes, and a pool: 5 available and 2
    // spent publish UTXOs of 100 sat, one 5,000-sat funding output.
    std::string filled() {
        const std::string db = fresh_database();
        pg::Connection c = connect(db);
        EXPECT_TRUE(pg::migrate(c).ok());
        // sent_at a minute ahead: inside the 3-second window whatever the
        // test's pace.
        for (const char* sql : {
                 R"SQL(INSERT INTO publish_batches (batch_id, job_count, status, created_at)
                       VALUES ('b-1', 3, 'closed', now() - interval '2 s'),
                              ('b-2', 3, 'closed', now() - interval '1 s'))SQL",
                 R"SQL(INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash,
                                                 status, processing_batch_id, batch_seq, sent_at)
                       SELECT format('job-%s-%s', b, s), format('rec-%s-%s', b, s), '{}',
                              encode(sha256(format('%s-%s', b, s)::bytea), 'hex'), 'sent',
                              'b-' || b, s, now() + interval '1 minute'
                         FROM generate_series(1, 2) AS b, generate_series(1, 3) AS s)SQL",
                 R"SQL(INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash,
                                                 status, error_code)
                       VALUES ('f-1', 'rf-1', '{}', repeat('a', 64), 'failed', 'no_utxo'),
                              ('f-2', 'rf-2', '{}', repeat('b', 64), 'failed', 'no_utxo'),
                              ('f-3', 'rf-3', '{}', repeat('c', 64), 'failed',
                               'network_rejected'))SQL",
                 R"SQL(INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash,
                                                 status, sending_started_at)
                       VALUES ('s-1', 'rs-1', '{}', repeat('d', 64), 'sending',
                               now() - interval '3 minutes'))SQL",
                 R"SQL(INSERT INTO utxos (txid, vout, satoshis, script_pub_key, purpose, status)
                       SELECT repeat('e', 63) || i, 0, 100, '76a9', 'publish',
                              CASE WHEN i <= 5 THEN 'available' ELSE 'spent' END
                         FROM generate_series(1, 7) AS i)SQL",
                 R"SQL(INSERT INTO utxos (txid, vout, satoshis, script_pub_key, purpose, status)
                       VALUES (repeat('f', 64), 0, 5000, '76a9', 'funding', 'available'))SQL"}) {
            pg::Result r = c.exec(sql);
            EXPECT_TRUE(r.ok()) << r.error() << "\n" << sql;
        }
        return db;
    }
};

TEST_F(StatusTest, EveryPartOfTheReportSaysWhatItsRowsSay) {
    const std::string db = filled();
    pg::Connection c = connect(db);
    Json r;
    ASSERT_TRUE(read_status(c, StatusOptions{}, r).ok());

    EXPECT_EQ(r["throughput"]["sent_last_3s"], 6);
    EXPECT_DOUBLE_EQ(r["throughput"]["tx_per_sec"].get<double>(), 2.0);

    EXPECT_EQ(r["batches"]["checked"], 2);
    EXPECT_EQ(r["batches"]["sequential"], 2);
    EXPECT_EQ(r["batches"]["not_sequential"], 0);
    const Json& newest = r["batches"]["newest"][0];
    EXPECT_EQ(newest["batch_id"], "b-2");
    EXPECT_EQ(newest["jobs"], 3);
    EXPECT_EQ(newest["sent"], 3);
    EXPECT_EQ(newest["max_seq"], 3);

    EXPECT_EQ(r["pool"]["publish_available"], 5);
    std::int64_t funding = 0;
    for (const Json& row : r["pool"]["by_size"])
        if (row["purpose"] == "funding") funding = row["total_satoshis"].get<std::int64_t>();
    EXPECT_EQ(funding, 5000);

    // 3 failed of 9 ended jobs (6 sent, 3 failed); the stuck one has not ended.
    EXPECT_EQ(r["errors"]["failed"], 3);
    const Json& top = r["errors"]["by_code"][0];
    EXPECT_EQ(top["code"], "no_utxo");
    EXPECT_EQ(top["failed"], 2);
    EXPECT_NEAR(top["share"].get<double>(), 2.0 / 9.0, 1e-4);

    EXPECT_EQ(r["stuck_sending"], 1);

    const std::string tables = format_tables(r);
    EXPECT_NE(tables.find("6 sent in the last 3 s"), std::string::npos) << tables;
    EXPECT_NE(tables.find("no_utxo"), std::string::npos) << tables;
}

TEST_F(StatusTest, ABatchMissingAJobIsReportedNotSequential) {
    const std::string db = filled();
    pg::Connection c = connect(db);
    ASSERT_TRUE(c.exec("DELETE FROM publish_jobs WHERE job_id = 'job-1-2'").ok());
    // And a batch whose numbers repeat.
    ASSERT_TRUE(c.exec("UPDATE publish_jobs SET batch_seq = 1 WHERE job_id = 'job-2-3'").ok());
    Json r;
    ASSERT_TRUE(read_status(c, StatusOptions{}, r).ok());
    EXPECT_EQ(r["batches"]["not_sequential"], 2);
    EXPECT_EQ(r["batches"]["broken"][1]["batch_id"], "b-1");
    EXPECT_EQ(r["batches"]["broken"][1]["jobs"], 2);
    EXPECT_EQ(r["batches"]["broken"][1]["job_count"], 3);
    // Only the newest one checked: b-2.
    StatusOptions one;
    one.batches = 1;
    ASSERT_TRUE(read_status(c, one, r).ok());
    EXPECT_EQ(r["batches"]["checked"], 1);
    EXPECT_EQ(r["batches"]["broken"][0]["batch_id"], "b-2");
}

}  // namespace
}  // namespace raregen::status
