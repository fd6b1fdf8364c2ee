// Instances, liveness, adoption and claiming against a real PostgreSQL 15.

#include "storage/jobs/job_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>

#include "storage/pg/migrations.h"
#include "tests/storage/pg/pg_test_env.h"

namespace raregen::jobs {
namespace {

using pg::testing::PgTest;

class JobStoreTest : public PgTest {
  protected:
    std::string db() {
        const std::string d = fresh_database();
        pg::Connection c = connect(d);
        pg::Status st = pg::migrate(c);
        EXPECT_TRUE(st.ok()) << st.message();
        return d;
    }
};

std::string uuid(int i) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", i);
    return buf;
}
std::string hash(int i) {
    std::string h(64, '0');
    const std::string n = std::to_string(i);
    h.replace(64 - n.size(), n.size(), n);
    return h;
}

const std::uint8_t k_tx[3] = {1, 2, 3};

void insert_job(pg::Connection& c, int i, const std::string& owner, const std::string& status,
                const char* batch, int seq, bool signed_tx) {
    pg::Result r = c.exec_params(
        "INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, status, "
        "instance_id, processing_batch_id, batch_seq, intake_seq, txid, signed_tx, spent_txid, "
        "spent_vout) VALUES ($1, $2, '{}', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        uuid(i), "rec-" + std::to_string(i), hash(i), status,
        owner.empty() ? std::optional<std::string>() : std::optional<std::string>(owner),
        batch ? std::optional<std::string>(batch) : std::nullopt,
        seq > 0 ? std::optional<std::int64_t>(seq) : std::nullopt, static_cast<std::int64_t>(i),
        signed_tx ? std::optional<std::string>(hash(1000 + i)) : std::nullopt,
        signed_tx ? std::optional<pg::Binary>(pg::Binary{std::span<const std::uint8_t>(k_tx, 3)})
                  : std::nullopt,
        signed_tx ? std::optional<std::string>(hash(2000 + i)) : std::nullopt,
        signed_tx ? std::optional<std::int64_t>(i) : std::nullopt);
    ASSERT_TRUE(r.ok()) << r.error();
}

TEST_F(JobStoreTest, OnlyInstancesWhoseSessionEndedAreDead) {
    const std::string d = db();
    pg::Connection c = connect(d);
    InstanceLease live(d, "i-live");
    {
        InstanceLease graceful(d, "i-graceful");  // stops cleanly: stopped_at set
    }
    // A crashed engine: registered, no session holds its lock.
    ASSERT_TRUE(c.exec("INSERT INTO raregen_instances (instance_id) VALUES ('i-crashed')").ok());
    std::vector<std::string> dead;
    ASSERT_TRUE(find_dead_instances(c, "i-me", dead).ok());
    EXPECT_EQ(dead, std::vector<std::string>{"i-crashed"});
    // The live one is still alive afterwards (the probe did not steal its lock).
    dead.clear();
    ASSERT_TRUE(find_dead_instances(c, "i-me", dead).ok());
    EXPECT_EQ(dead, std::vector<std::string>{"i-crashed"});
}

TEST_F(JobStoreTest, AnInstanceTakesItsLockAgainAfterTheDatabaseRestarts) {
    const std::string d = db();
    InstanceLease live(d, "i-live", std::chrono::milliseconds(50));
    m_pg->stop_server();
    m_pg->restart_server();
    for (int i = 0; i < 400 && live.relocks() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    EXPECT_GE(live.relocks(), 1u);
    pg::Connection c = connect(d);
    std::vector<std::string> dead;
    ASSERT_TRUE(find_dead_instances(c, "i-me", dead).ok());
    EXPECT_TRUE(dead.empty()) << dead.front();
}

TEST_F(JobStoreTest, AdoptionResumesEachUnfinishedJobOnItsRoute) {
    const std::string d = db();
    pg::Connection c = connect(d);
    insert_job(c, 1, "i-dead", "sending", "b-x-1", 1, true);
    insert_job(c, 2, "i-dead", "processing_batch", "b-x-1", 3, false);
    insert_job(c, 3, "i-dead", "processing_batch", "b-x-1", 2, false);
    insert_job(c, 4, "i-dead", "queued", nullptr, 0, false);
    insert_job(c, 5, "i-dead", "sent", "b-x-1", 4, true);              // finished: left alone
    insert_job(c, 6, "i-other", "queued", nullptr, 0, false);          // someone else's
    insert_job(c, 7, "i-dead", "processing_batch", "b-x-2", 1, true);  // signed, not released
    std::vector<ResumedJob> out;
    ASSERT_TRUE(adopt_jobs(c, "i-dead", "i-me", out).ok());
    ASSERT_EQ(out.size(), 5u);
    EXPECT_EQ(out[0].route, Route::gate);
    EXPECT_EQ(out[0].job.job_id.to_string(), uuid(1));
    EXPECT_EQ(out[0].job.raw.size, 3u);
    EXPECT_EQ(out[0].job.utxo.outpoint.vout, 1u);
    EXPECT_EQ(out[1].route, Route::gate);
    EXPECT_EQ(out[1].job.job_id.to_string(), uuid(7));
    EXPECT_EQ(out[2].route, Route::sign);  // batch order: seq 2 before seq 3
    EXPECT_EQ(out[2].job.batch_seq, 2u);
    EXPECT_EQ(out[3].route, Route::sign);
    EXPECT_EQ(out[3].job.batch_seq, 3u);
    EXPECT_EQ(out[4].route, Route::sequence);
    EXPECT_EQ(out[4].job.record_id.view(), "rec-4");
    pg::Result r = c.exec("SELECT count(*) FROM publish_jobs WHERE instance_id = 'i-me'");
    EXPECT_EQ(r.text(0, 0), "5");
    r = c.exec("SELECT instance_id FROM publish_jobs WHERE job_id = '" + uuid(5) + "'");
    EXPECT_EQ(r.text(0, 0), "i-dead");
    // Adopting again finds nothing: no job is resumed twice.
    out.clear();
    ASSERT_TRUE(adopt_jobs(c, "i-dead", "i-me", out).ok());
    EXPECT_TRUE(out.empty());
}

// A batch the dead engine did not live to close gets its publish_batches
// row at adoption, counting the jobs that carry its id; one it closed keeps
// its own row; adopting again writes nothing.
TEST_F(JobStoreTest, AdoptionWritesTheRowOfEveryBatchTheDeadEngineLeftOpen) {
    const std::string d = db();
    pg::Connection c = connect(d);
    insert_job(c, 1, "i-dead", "sent", "b-dead-1", 1, true);
    insert_job(c, 2, "i-dead", "sending", "b-dead-1", 2, true);
    insert_job(c, 3, "i-dead", "processing_batch", "b-dead-1", 3, false);
    insert_job(c, 4, "i-dead", "sent", "b-dead-2", 1, true);
    insert_job(c, 5, "i-other", "processing_batch", "b-other-1", 1, false);
    ASSERT_TRUE(c.exec("INSERT INTO publish_batches (batch_id, job_count, status, instance_id) "
                       "VALUES ('b-dead-2', 1, 'closed', 'i-dead')")
                    .ok());
    const std::string before = std::string(
        c.exec("SELECT b::text FROM publish_batches b WHERE batch_id = 'b-dead-2'").text(0, 0));
    std::vector<ResumedJob> out;
    ASSERT_TRUE(adopt_jobs(c, "i-dead", "i-me", out).ok());
    EXPECT_EQ(c.exec("SELECT string_agg(batch_id || ':' || job_count || ':' || status, ',' "
                     "ORDER BY batch_id) FROM publish_batches")
                  .text(0, 0),
              "b-dead-1:3:closed,b-dead-2:1:closed");
    EXPECT_EQ(
        c.exec("SELECT b::text FROM publish_batches b WHERE batch_id = 'b-dead-2'").text(0, 0),
        before);
    ASSERT_TRUE(adopt_jobs(c, "i-dead", "i-me", out).ok());
    EXPECT_EQ(c.exec("SELECT count(*) FROM publish_batches").text(0, 0), "2");
}

TEST_F(JobStoreTest, UnreadableRowsAreFailedWithTheReasonNotResumed) {
    const std::string d = db();
    pg::Connection c = connect(d);
    const std::string too_long(model::JobId::k_max_text + 1, 'j');
    ASSERT_TRUE(
        c.exec("INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, "
               "status, instance_id) VALUES ('" +
               too_long + "', 'r', '{}', '" + hash(9) + "', 'queued', 'i-dead')")
            .ok());
    std::vector<ResumedJob> out;
    ASSERT_TRUE(adopt_jobs(c, "i-dead", "i-me", out).ok());
    EXPECT_TRUE(out.empty());
    pg::Result r =
        c.exec("SELECT status, error_code, error_detail FROM publish_jobs WHERE job_id = '" +
               too_long + "'");
    EXPECT_EQ(r.text(0, 0), "failed");
    EXPECT_EQ(r.text(0, 1), "unresumable");
    EXPECT_NE(r.text(0, 2).find("longer than 64"), std::string_view::npos) << r.text(0, 2);
}

// The old service's ids ("job_<ms>_<rand>") and an upper-case UUID another
// writer made are resumed and claimed as they are stored, and written back
// under the same text.
TEST_F(JobStoreTest, TextJobIdsAreResumedAndClaimedAsStored) {
    const std::string d = db();
    pg::Connection c = connect(d);
    const std::string old_id = "job_1700000000123_k3j9x2";
    const std::string upper = "2B4E28BA-2FA1-4D3B-883F-0016D3CCA427";
    ASSERT_TRUE(c.exec("INSERT INTO publish_jobs (job_id, record_id, record_canonical, "
                       "record_hash, status, instance_id, created_at) VALUES "
                       "('" +
                       old_id + "', 'r1', '{}', '" + hash(21) +
                       "', 'queued', NULL, now() - interval '1 hour'), "
                       "('" +
                       upper + "', 'r2', '{}', '" + hash(22) + "', 'queued', 'i-dead', now())")
                    .ok());
    std::vector<ResumedJob> out;
    ASSERT_TRUE(adopt_jobs(c, "i-dead", "i-me", out).ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].job.job_id.to_string(), upper);
    EXPECT_FALSE(out[0].job.job_id.is_uuid());
    out.clear();
    ASSERT_TRUE(claim_queued(c, "i-me", 10, out).ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].job.job_id.to_string(), old_id);
    EXPECT_EQ(out[0].route, Route::sequence);
    pg::Result r = c.exec("SELECT count(*) FROM publish_jobs WHERE instance_id = 'i-me'");
    EXPECT_EQ(r.text(0, 0), "2");
}

// The claim pass writes only the queued rows it takes: the old service's
// history (sent, failed) and the batch it is working on keep every byte,
// updated_at included.
TEST_F(JobStoreTest, ClaimingNeverWritesRowsItDoesNotTake) {
    const std::string d = db();
    pg::Connection c = connect(d);
    for (int i = 0; i < 30; ++i) {
        const char* status = i % 3 == 0 ? "sent" : i % 3 == 1 ? "failed" : "processing_batch";
        ASSERT_TRUE(c.exec_params("INSERT INTO publish_jobs (job_id, record_id, "
                                  "record_canonical, record_hash, status, updated_at) VALUES "
                                  "($1, 'r', '{}', $2, $3, '2024-01-01 00:00:00+00')",
                                  "job_17000000000" + std::to_string(i) + "_hist", hash(100 + i),
                                  status)
                        .ok());
    }
    auto snapshot = [&] {
        pg::Result r = c.exec(
            "SELECT string_agg(t::text, '|' ORDER BY job_id) FROM publish_jobs t "
            "WHERE job_id LIKE '%_hist'");
        return std::string(r.text(0, 0));
    };
    const std::string before = snapshot();
    std::vector<ResumedJob> out;
    for (int pass = 0; pass < 3; ++pass)
        ASSERT_TRUE(claim_queued(c, "i-me", 100, out).ok());
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(snapshot(), before);
}

TEST_F(JobStoreTest, ConcurrentClaimsNeverTakeTheSameRow) {
    const std::string d = db();
    {
        pg::Connection c = connect(d);
        for (int i = 1; i <= 400; ++i)
            insert_job(c, i, "", "queued", nullptr, 0, false);
    }
    std::vector<ResumedJob> got[3];
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&, t] {
            pg::Connection c = connect(d);
            const std::string me = "i-" + std::to_string(t);
            for (;;) {
                const std::size_t before = got[t].size();
                ASSERT_TRUE(claim_queued(c, me, 25, got[t]).ok());
                if (got[t].size() == before) break;
            }
        });
    }
    for (auto& th : threads)
        th.join();
    std::set<std::string> all;
    std::size_t total = 0;
    for (auto& g : got) {
        total += g.size();
        for (auto& j : g) {
            EXPECT_EQ(j.route, Route::sequence);
            all.insert(j.job.job_id.to_string());
        }
    }
    EXPECT_EQ(total, 400u);
    EXPECT_EQ(all.size(), 400u);
    pg::Connection c = connect(d);
    EXPECT_EQ(c.exec("SELECT count(*) FROM publish_jobs WHERE instance_id IS NULL").text(0, 0),
              "0");
}

// What a stopped old service left: its batch's unsent jobs are queued again
// (old batch remembered in audit_log), its sending jobs listed; one whose
// txid ARC holds is marked sent; nothing raregen owns is touched, and
// nothing at all without --adopt-legacy (count_legacy only reads).
TEST_F(JobStoreTest, LegacyBatchesAreRequeuedAndSendingJobsListed) {
    const std::string d = db();
    pg::Connection c = connect(d);
    auto insert = [&](const std::string& id, int n, const std::string& status,
                      const std::string& instance, const std::string& txid) {
        ASSERT_TRUE(c.exec_params("INSERT INTO publish_jobs (job_id, record_id, record_canonical, "
                                  "record_hash, status, instance_id, processing_batch_id, "
                                  "batch_seq, txid) VALUES ($1, 'r', '{}', $2, $3, "
                                  "NULLIF($4, ''), 'batch_old', $5, NULLIF($6, ''))",
                                  id, hash(200 + n), status, instance, n, txid)
                        .ok());
    };
    insert("job_1_a", 1, "processing_batch", "", "");
    insert("job_1_b", 2, "processing_batch", "", "");
    insert("job_1_c", 3, "sending", "", "");
    insert("job_1_d", 4, "sending", "", std::string(64, 'd'));
    insert(uuid(5), 5, "processing_batch", "i-live", "");  // raregen's own: not legacy

    LegacyScan seen;
    ASSERT_TRUE(count_legacy(c, seen).ok());
    EXPECT_EQ(seen.processing_batch, 2u);
    EXPECT_EQ(seen.sending.size(), 2u);
    EXPECT_EQ(
        c.exec("SELECT count(*) FROM publish_jobs WHERE status = 'processing_batch'").text(0, 0),
        "3");

    LegacyScan scan;
    ASSERT_TRUE(requeue_legacy(c, "i-me", scan).ok());
    EXPECT_EQ(scan.requeued, 2u);
    EXPECT_EQ(scan.processing_batch, 0u);
    ASSERT_EQ(scan.sending.size(), 2u);
    EXPECT_EQ(scan.sending[0].job_id, "job_1_c");
    EXPECT_TRUE(scan.sending[0].txid.empty());
    EXPECT_EQ(scan.sending[1].txid, std::string(64, 'd'));
    EXPECT_EQ(
        c.exec("SELECT string_agg(job_id || ':' || status || ':' || "
               "coalesce(processing_batch_id, '-'), ',' ORDER BY job_id) FROM publish_jobs "
               "WHERE instance_id IS NULL")
            .text(0, 0),
        "job_1_a:queued:-,job_1_b:queued:-,job_1_c:sending:batch_old,job_1_d:sending:batch_old");
    EXPECT_EQ(c.exec("SELECT count(*) FROM audit_log WHERE event = 'legacy_requeued' AND "
                     "detail ->> 'old_batch_id' = 'batch_old'")
                  .text(0, 0),
              "2");
    // The requeued jobs are claimed like any queued row, under their old ids.
    std::vector<ResumedJob> out;
    ASSERT_TRUE(claim_queued(c, "i-me", 10, out).ok());
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ((std::set<std::string>{out[0].job.job_id.to_string(), out[1].job.job_id.to_string()}),
              (std::set<std::string>{"job_1_a", "job_1_b"}));

    bool marked = false;
    ASSERT_TRUE(mark_legacy_sent(c, "i-me", scan.sending[1], "SEEN_ON_NETWORK", marked).ok());
    EXPECT_TRUE(marked);
    ASSERT_TRUE(mark_legacy_sent(c, "i-me", scan.sending[1], "SEEN_ON_NETWORK", marked).ok());
    EXPECT_FALSE(marked) << "a second mark finds nothing to change";
    // Sent, and still the old service's row: no raregen owner.
    EXPECT_EQ(c.exec("SELECT status || ':' || coalesce(instance_id, '-') || ':' || arc_status "
                     "FROM publish_jobs WHERE job_id = 'job_1_d'")
                  .text(0, 0),
              "sent:-:SEEN_ON_NETWORK");
    EXPECT_EQ(c.exec("SELECT status FROM publish_jobs WHERE job_id = 'job_1_c'").text(0, 0),
              "sending");
    EXPECT_EQ(c.exec("SELECT status FROM publish_jobs WHERE job_id = '" + uuid(5) + "'").text(0, 0),
              "processing_batch");
}

// Rows an earlier raregen tagged 'legacy' (its claim pass did) are still the
// old service's; 'retryable' rows wait like processing_batch ones. (The old
// schema's 'processing' cannot be written here: raregen's own schema checks
// the status; the switch-over test runs on the old schema.)
TEST_F(JobStoreTest, LegacyTakeOverCoversTaggedRowsAndEveryWaitingState) {
    const std::string d = db();
    pg::Connection c = connect(d);
    auto insert = [&](const std::string& id, int n, const std::string& status,
                      const std::string& instance) {
        ASSERT_TRUE(c.exec_params("INSERT INTO publish_jobs (job_id, record_id, record_canonical, "
                                  "record_hash, status, instance_id) VALUES ($1, 'r', '{}', $2, "
                                  "$3, NULLIF($4, ''))",
                                  id, hash(300 + n), status, instance)
                        .ok());
    };
    insert("job_2_a", 1, "processing_batch", "legacy");
    insert("job_2_b", 2, "retryable", "");
    insert("job_2_c", 3, "sending", "");
    insert("job_2_d", 4, "sending", "legacy");
    LegacyScan scan;
    ASSERT_TRUE(requeue_legacy(c, "i-me", scan).ok());
    EXPECT_EQ(scan.requeued, 2u);
    ASSERT_EQ(scan.sending.size(), 2u);
    EXPECT_EQ(scan.sending[0].job_id, "job_2_c");
    EXPECT_EQ(scan.sending[1].job_id, "job_2_d");
    std::vector<ResumedJob> out;
    ASSERT_TRUE(claim_queued(c, "i-me", 10, out).ok());
    EXPECT_EQ(out.size(), 2u) << "requeued rows are claimable (no 'legacy' tag left)";
}

// An engine that stops cleanly with jobs left `sending` (no definite answer
// from ARC) stays adoptable, so the next one looks them up by txid; one that
// leaves nothing unfinished is stopped for good.
TEST_F(JobStoreTest, ACleanStopWithUnfinishedJobsLeavesTheInstanceAdoptable) {
    const std::string d = db();
    pg::Connection c = connect(d);
    std::string unfinished_id, finished_id;
    {
        InstanceLease unfinished(d, "i-unfinished");
        InstanceLease finished(d, "i-finished");
        insert_job(c, 1, "i-unfinished", "sending", "b-u-1", 1, true);
        insert_job(c, 2, "i-finished", "sent", "b-f-1", 1, true);
    }
    std::vector<std::string> dead;
    ASSERT_TRUE(find_dead_instances(c, "i-me", dead).ok());
    EXPECT_EQ(dead, std::vector<std::string>{"i-unfinished"});
    std::vector<ResumedJob> out;
    ASSERT_TRUE(adopt_jobs(c, "i-unfinished", "i-me", out).ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].route, Route::gate);
}

}  // namespace
}  // namespace raregen::jobs
