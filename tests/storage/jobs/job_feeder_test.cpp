// The JobFeeder against a real PostgreSQL 15: adopted jobs go out on their
// three routes side by side, so a route whose channel stays full (adopted
// signed jobs waiting for the gate) never holds back the others.

#include "storage/jobs/job_feeder.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "engine/flow/channel.h"
#include "engine/flow/run_context.h"
#include "storage/pg/migrations.h"
#include "tests/storage/pg/pg_test_env.h"

namespace raregen::jobs {
namespace {

using pg::testing::PgTest;
using JobChannel = flow::Channel<model::Job>;

class JobFeederTest : public PgTest {};

TEST_F(JobFeederTest, AFullGateRouteDoesNotHoldBackBatchedOrQueuedJobs) {
    const std::string d = fresh_database();
    pg::Connection c = connect(d);
    ASSERT_TRUE(pg::migrate(c).ok());
    // A dead engine (registered, its liveness lock free) with 300 signed
    // jobs to resend, 40 batched and 40 queued ones.
    ASSERT_TRUE(c.exec("INSERT INTO raregen_instances (instance_id) VALUES ('i-dead')").ok());
    pg::Result r = c.exec(R"SQL(
INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, status, instance_id,
                          processing_batch_id, batch_seq, intake_seq, txid, signed_tx,
                          spent_txid, spent_vout)
SELECT format('job-%s', i), format('rec-%s', i), '{}', lpad(to_hex(i), 64, '0'),
       CASE WHEN i <= 340 THEN 'processing_batch' ELSE 'queued' END, 'i-dead',
       CASE WHEN i <= 340 THEN 'b-dead-' || (1 + (i - 1) / 100) END,
       CASE WHEN i <= 340 THEN 1 + (i - 1) % 100 END, i,
       CASE WHEN i <= 300 THEN lpad(to_hex(100000 + i), 64, '0') END,
       CASE WHEN i <= 300 THEN '\x010203'::bytea END,
       CASE WHEN i <= 300 THEN lpad(to_hex(200000 + i), 64, '0') END,
       CASE WHEN i <= 300 THEN i END
  FROM generate_series(1, 380) AS i)SQL");
    ASSERT_TRUE(r.ok()) << r.error();

    JobChannel to_sequence(8, 1), to_sign(8, 1), to_gate(8, 1);
    flow::RunContext context;
    JobFeederOptions o;
    o.conninfo = d;
    o.instance_id = "i-me";
    auto feeder = std::make_unique<JobFeeder>(
        o, to_sequence.make_producer(), to_sign.make_producer(), to_gate.make_producer(), context);
    feeder->start();
    // Nobody takes from the gate route: it fills after 8 jobs. The other two
    // routes are drained as a sign stage and a sequencer would.
    auto seq_in = to_sequence.make_consumer();
    auto sign_in = to_sign.make_consumer();
    std::set<std::string> got_sequence, got_sign;
    model::Job j;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while ((got_sequence.size() < 40 || got_sign.size() < 40) &&
           std::chrono::steady_clock::now() < give_up) {
        bool any = false;
        while (seq_in.try_dequeue(j)) {
            got_sequence.insert(j.job_id.to_string());
            any = true;
        }
        while (sign_in.try_dequeue(j)) {
            got_sign.insert(j.job_id.to_string());
            any = true;
        }
        if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_EQ(got_sequence.size(), 40u) << "queued jobs held back behind the gate route";
    EXPECT_EQ(got_sign.size(), 40u) << "batched jobs held back behind the gate route";
    EXPECT_EQ(to_gate.size(), 8u);
    feeder.reset();  // quits while the gate route is still full
}

}  // namespace
}  // namespace raregen::jobs
