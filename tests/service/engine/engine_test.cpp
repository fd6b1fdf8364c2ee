// The durable engine in process, against a real PostgreSQL 15: the same
// assembly `raregen run` uses (service/engine/engine.h), started, fed,
// stopped mid-run and restarted, then judged by the exactly-once audit over
// every table and the transactions it wrote (storage/jobs/audit.h). The
// subprocess crash tests (tests/tools/raregen/run_crash_test.cpp) add
// SIGKILLs on the real binary.

#include "service/engine/engine.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/hash.h"
#include "storage/jobs/audit.h"
#include "storage/pg/migrations.h"
#include "tests/storage/pg/pg_test_env.h"
#include "tests/support/engine/engine_fixtures.h"

namespace raregen::service {
namespace {

using namespace std::chrono_literals;
using pg::testing::PgTest;

using raregen::testing::Intents;
using raregen::testing::make_utxos;
using raregen::testing::read_output;
using raregen::testing::TempDir;
using raregen::testing::test_key;
using raregen::testing::write_intents;

class EngineTest : public PgTest {
  protected:
    EngineConfig config(const std::string& db) const {
        EngineConfig c;
        c.key.emplace(test_key());
        c.database_url = db;
        c.out_path = m_dir.path("tx.ef");
        c.rate = 1000;
        c.period = 100ms;
        c.batch_window = 50ms;
        c.max_batch_size = 40;
        c.handle_signals = false;
        c.progress_interval = 0ms;
        c.log_prefix = "engine_test";
        return c;
    }
    jobs::ExactlyOnceAudit audit(const std::string& db) {
        pg::Connection c = connect(db);
        const std::vector<jobs::HandedOver> handed = read_output(m_dir.path("tx.ef"));
        jobs::ExactlyOnceAudit a;
        EXPECT_TRUE(jobs::audit_exactly_once(c, "", &handed, a).ok());
        return a;
    }
    std::string scalar(const std::string& db, const std::string& sql) {
        pg::Connection c = connect(db);
        pg::Result r = c.exec(sql);
        EXPECT_TRUE(r.ok()) << r.error();
        return r.ok() && r.rows() > 0 ? std::string(r.text(0, 0)) : std::string();
    }

    TempDir m_dir;
};

TEST_F(EngineTest, ABatchRunPublishesEveryValidIntentOnceAndEveryTableSaysSo) {
    const std::string db = fresh_database();
    const Intents in = write_intents(m_dir, 300, 0.1, 11);
    EngineConfig c = config(db);
    c.registered_file = in.registered;
    c.utxos = make_utxos(400, 1);
    const int fd = ::open(in.file.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    c.input_fd = fd;
    {
        Engine engine(std::move(c));
        const EngineError e = engine.start();
        ASSERT_FALSE(e) << e.message;
        engine.wait();
        ::close(fd);
        EXPECT_FALSE(engine.outcome()) << engine.outcome().message;
        const Json s = engine.summary();
        EXPECT_EQ(s["intents"]["accepted"].get<std::size_t>(), in.valid);
        EXPECT_EQ(s["intents"]["rejected"].get<std::size_t>(), 300 - in.valid);
        EXPECT_EQ(s["transactions"]["written"].get<std::size_t>(), in.valid);
        // Leased ahead into the ring; what was not spent went back.
        EXPECT_EQ(s["utxos"]["leased"].get<std::size_t>() -
                      s["utxos"]["returned_to_pool"].get<std::size_t>(),
                  in.valid);
        EXPECT_EQ(s["write_behind"]["durable"], s["write_behind"]["facts"]);
    }  // the engine's instance ends with it

    const jobs::ExactlyOnceAudit a = audit(db);
    EXPECT_TRUE(a.ok()) << a.example;
    EXPECT_EQ(a.sent, in.valid);
    EXPECT_EQ(a.matched, in.valid);
    EXPECT_EQ(a.publications, in.valid);
    EXPECT_GT(a.batches.batches, 0u);
    // The rows an operator reads: UTXOs, the instance, the audit log.
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM utxos WHERE status = 'spent'"),
              std::to_string(in.valid));
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM utxos WHERE status = 'available'"),
              std::to_string(400 - in.valid));
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM raregen_instances WHERE stopped_at IS NULL"), "0");
    EXPECT_EQ(scalar(db, "SELECT count(DISTINCT job_id) FROM audit_log"), std::to_string(in.valid));
}

TEST_F(EngineTest, AStopMidRunDrainsWhatWasAcceptedAndTheNextEngineFinishes) {
    const std::string db = fresh_database();
    const Intents in = write_intents(m_dir, 2000, 0.0, 12);
    std::size_t accepted_first = 0;
    {
        EngineConfig c = config(db);
        c.registered_file = in.registered;
        c.utxos = make_utxos(2000, 2);
        c.rate = 100;             // slow enough to be stopped midway
        c.channel_capacity = 16;  // and intake held back by the full queues behind it
        const int fd = ::open(in.file.c_str(), O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        c.input_fd = fd;
        Engine engine(std::move(c));
        ASSERT_FALSE(engine.start());
        const auto give_up = std::chrono::steady_clock::now() + 120s;
        while (engine.progress().sent < 150 && std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(5ms);
        ASSERT_GE(engine.progress().sent, 150u) << "the engine stalled";
        engine.request_stop();
        engine.wait();
        ::close(fd);
        EXPECT_FALSE(engine.outcome()) << engine.outcome().message;
        const Json s = engine.summary();
        accepted_first = s["intents"]["accepted"].get<std::size_t>();
        // Intake stopped early; everything accepted reached the file.
        EXPECT_LT(accepted_first, 2000u);
        EXPECT_EQ(s["transactions"]["written"].get<std::size_t>(), accepted_first);
    }
    jobs::ExactlyOnceAudit a = audit(db);
    EXPECT_TRUE(a.ok()) << a.example;
    EXPECT_EQ(a.sent, accepted_first);
    // The same file again: what was published is refused as a replay (its
    // nonce is in the database), the rest is published once.
    {
        EngineConfig c = config(db);
        const int fd = ::open(in.file.c_str(), O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        c.input_fd = fd;
        c.no_gate = true;
        Engine engine(std::move(c));
        ASSERT_FALSE(engine.start());
        engine.wait();
        ::close(fd);
        EXPECT_FALSE(engine.outcome()) << engine.outcome().message;
        const Json s = engine.summary();
        EXPECT_EQ(s["intents"]["accepted"].get<std::size_t>(), 2000 - accepted_first);
        EXPECT_EQ(s["intents"]["rejected_by_reason"].value("nonce_replay", 0u), accepted_first);
    }
    a = audit(db);
    EXPECT_TRUE(a.ok()) << a.example;
    EXPECT_EQ(a.sent, 2000u);
    EXPECT_EQ(a.matched, 2000u);
}

TEST_F(EngineTest, AServiceClaimsRowsOthersQueueUntilItIsStopped) {
    const std::string db = fresh_database();
    {
        pg::Connection c = connect(db);
        ASSERT_TRUE(pg::migrate(c).ok());
    }
    EngineConfig c = config(db);
    c.service = true;  // no intake file: runs until stopped, jobs wait for UTXOs
    c.utxos = make_utxos(50, 3);
    Engine engine(std::move(c));
    ASSERT_FALSE(engine.start());
    // Another process (the old API) queues rows while the engine runs.
    {
        pg::Connection q = connect(db);
        pg::Result r = q.exec(R"SQL(
INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, status)
SELECT format('job_%s_api', i), format('api-%s', i), '{}', encode(sha256(i::text::bytea), 'hex'),
       'queued'
  FROM generate_series(1, 30) AS i)SQL");
        ASSERT_TRUE(r.ok()) << r.error();
    }
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (scalar(db, "SELECT count(*) FROM publish_jobs WHERE status = 'sent'") != "30" &&
           std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(50ms);
    engine.request_stop();
    engine.wait();
    EXPECT_FALSE(engine.outcome()) << engine.outcome().message;
    EXPECT_EQ(engine.summary()["recovery"]["claimed"].get<std::size_t>(), 30u);
    const jobs::ExactlyOnceAudit a = audit(db);
    EXPECT_TRUE(a.ok()) << a.example;
    EXPECT_EQ(a.sent, 30u);
    EXPECT_EQ(a.matched, 30u);
    // The UTXOs it did not use went back to the pool.
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM utxos WHERE status = 'available'"), "20");
}

// Adopted queued jobs are not starved by a backlog of adopted signed jobs
// being resent: a dead engine leaves 600 signed jobs (resent with their
// stored bytes, through a slow gate) and 40 queued ones (batched and signed
// anew). The queued ones go out while the backlog is still being sent:
// every one of them before the last 150 resent jobs, i.e. within
// (600 - 150) / 50 = 9 gate periods of 50 jobs (without sharing the gate's
// input they would all wait for the whole backlog: 12 periods). Measured
// here: before the last 340 (the gate's input takes at most 256 in a row
// from one producer, then turns to the next).
TEST_F(EngineTest, AdoptedQueuedJobsGoOutWhileABacklogOfAdoptedSignedJobsIsResent) {
    const std::string db = fresh_database();
    {
        pg::Connection c = connect(db);
        ASSERT_TRUE(pg::migrate(c).ok());
        ASSERT_TRUE(c.exec("INSERT INTO raregen_instances (instance_id) VALUES ('i-dead')").ok());
        pg::Result r = c.exec(R"SQL(
INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, status, instance_id,
                          processing_batch_id, batch_seq, intake_seq, txid, signed_tx,
                          spent_txid, spent_vout)
SELECT format('job-%s', i), format('rec-%s', i), '{}', encode(sha256(i::text::bytea), 'hex'),
       CASE WHEN i <= 600 THEN 'sending' ELSE 'queued' END, 'i-dead',
       CASE WHEN i <= 600 THEN 'b-dead-' || (1 + (i - 1) / 100) END,
       CASE WHEN i <= 600 THEN 1 + (i - 1) % 100 END, i,
       CASE WHEN i <= 600 THEN lpad(to_hex(100000 + i), 64, '0') END,
       CASE WHEN i <= 600 THEN '\x010203'::bytea END,
       CASE WHEN i <= 600 THEN lpad(to_hex(200000 + i), 64, '0') END,
       CASE WHEN i <= 600 THEN 0 END
  FROM generate_series(1, 640) AS i)SQL");
        ASSERT_TRUE(r.ok()) << r.error();
    }
    EngineConfig c = config(db);
    c.service = true;
    c.utxos = make_utxos(40, 4);  // for the queued jobs
    c.rate = 50;                  // 50 per 200 ms: the backlog takes 12 periods
    c.period = 200ms;
    Engine engine(std::move(c));
    ASSERT_FALSE(engine.start());
    const auto give_up = std::chrono::steady_clock::now() + 120s;
    while (scalar(db, "SELECT count(*) FROM publish_jobs WHERE status = 'sent'") != "640" &&
           std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(50ms);
    engine.request_stop();
    engine.wait();
    EXPECT_FALSE(engine.outcome()) << engine.outcome().message;
    ASSERT_EQ(scalar(db, "SELECT count(*) FROM publish_jobs WHERE status = 'sent'"), "640");
    // Resent jobs whose sent fact landed after the last queued job's.
    const std::string after = scalar(db, R"SQL(
WITH n AS (SELECT substr(job_id, 5)::int AS i, sent_at FROM publish_jobs)
SELECT count(*) FROM n
 WHERE i <= 600 AND sent_at > (SELECT max(sent_at) FROM n WHERE i > 600))SQL");
    EXPECT_GE(std::stoi(after), 150) << "the adopted queued jobs waited behind the resent backlog";
}

// The publish value is a setting: with 1,000-sat publications, the 100-sat
// outputs in the pool are never leased (and a 1,000-sat input pays its
// change back, not a fee).
TEST_F(EngineTest, OnlyUtxosOfThePublishValueAreSpent) {
    const std::string db = fresh_database();
    const Intents in = write_intents(m_dir, 40, 0.0, 13);
    EngineConfig c = config(db);
    c.registered_file = in.registered;
    c.utxos = make_utxos(100, 5);
    for (std::size_t i = 0; i < c.utxos.size(); i += 2)
        c.utxos[i].value = 1000;  // 50 of 1,000 sat, 50 of 100 sat
    c.publish_value = 1000;
    c.change = true;
    const int fd = ::open(in.file.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    c.input_fd = fd;
    {
        Engine engine(std::move(c));
        const EngineError e = engine.start();
        ASSERT_FALSE(e) << e.message;
        engine.wait();
        ::close(fd);
        EXPECT_FALSE(engine.outcome()) << engine.outcome().message;
        EXPECT_EQ(engine.summary()["transactions"]["written"].get<std::size_t>(), 40u);
    }
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM utxos WHERE status = 'spent' AND satoshis = 1000"),
              "40");
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) FROM utxos WHERE status <> 'available' AND satoshis = "
                     "100"),
              "0");
    const jobs::ExactlyOnceAudit a = audit(db);
    EXPECT_TRUE(a.ok()) << a.example;
    EXPECT_EQ(a.sent, 40u);
}

TEST_F(EngineTest, AStopAskedForBeforeStartEndsAServiceAsSoonAsItRuns) {
    const std::string db = fresh_database();
    EngineConfig c = config(db);
    c.service = true;  // would otherwise run until stopped
    c.utxos = make_utxos(5, 5);
    Engine engine(std::move(c));
    engine.request_stop();  // e.g. SIGTERM while PostgreSQL was starting
    ASSERT_FALSE(engine.start());
    engine.wait();
    EXPECT_FALSE(engine.outcome()) << engine.outcome().message;
    // Nothing was leased for good: the UTXOs are back in the pool.
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM utxos WHERE status = 'available'"), "5");
}

TEST_F(EngineTest, InMemoryWithoutUtxosFailsEachJobNoUtxoAndLosesNone) {
    const Intents in = write_intents(m_dir, 40, 0.0, 13);
    EngineConfig c = config("");
    c.memory = true;
    c.registered_file = in.registered;  // no UTXOs at all: a closed, empty ring
    const int fd = ::open(in.file.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    c.input_fd = fd;
    Engine engine(std::move(c));
    ASSERT_FALSE(engine.start());
    engine.wait();
    ::close(fd);
    const Json s = engine.summary();
    EXPECT_EQ(s["intents"]["accepted"].get<std::size_t>(), 40u);
    EXPECT_EQ(s["transactions"]["no_utxo"].get<std::size_t>(), 40u);
    EXPECT_EQ(s["transactions"]["written"].get<std::size_t>(), 0u);
    EXPECT_EQ(engine.unfunded(), 40u);
}

TEST_F(EngineTest, AStartThatFailsLeavesNothingRunningAndSaysWhy) {
    const std::string db = fresh_database();
    EngineConfig c = config(db);
    c.out_path = m_dir.path("no-such-dir/tx.ef");
    c.utxos = make_utxos(5, 4);
    Engine engine(std::move(c));
    const EngineError e = engine.start();
    EXPECT_EQ(e.kind, EngineError::Kind::usage);
    EXPECT_NE(e.message.find("--out"), std::string::npos) << e.message;
    // Neither side given: a usage error before any database starts.
    EngineConfig none;
    none.key.emplace(test_key());
    none.memory = true;
    Engine nowhere(std::move(none));
    const EngineError n = nowhere.start();
    EXPECT_EQ(n.kind, EngineError::Kind::usage);
    EXPECT_NE(n.message.find("--out"), std::string::npos) << n.message;
}

}  // namespace
}  // namespace raregen::service
