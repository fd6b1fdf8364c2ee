// The ARC callback endpoint against a real PostgreSQL and real HTTP: the
// token is checked, MINED confirms the job with that txid (also before its
// sent fact has landed), other statuses and MINED for a job that is not
// waiting for it go to audit_log, unknown txids are counted, a batch is
// written at once, bad bodies are refused.

#include "storage/callbacks/callback_receiver.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "service/http/http_client.h"
#include "storage/pg/migrations.h"
#include "tests/storage/pg/pg_test_env.h"

namespace raregen::callbacks {
namespace {

const std::string k_token = "cb-token-7c1f";

std::string txid_of(int i) {
    std::string t(64, '0');
    const std::string n = std::to_string(i);
    t.replace(64 - n.size(), n.size(), n);
    return t;
}

class CallbackReceiverTest : public pg::testing::PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        m_db = fresh_database();
        pg::Connection c = connect(m_db);
        ASSERT_TRUE(pg::migrate(c).ok());
        // Jobs 1..4: sent, sent, processing_batch (signed, sent fact not yet
        // written), failed.
        const char* statuses[] = {"sent", "sent", "processing_batch", "failed"};
        for (int i = 1; i <= 4; ++i) {
            pg::Result r = c.exec_params(
                "INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, "
                "status, txid) VALUES ($1, $2, '{}', $3, $4, $5)",
                "job-" + std::to_string(i), "rec-" + std::to_string(i), txid_of(100 + i),
                std::string(statuses[i - 1]), txid_of(i));
            ASSERT_TRUE(r.ok()) << r.error();
        }
        CallbackReceiverOptions o;
        o.token = k_token;
        o.conninfo = m_db;
        m_receiver = std::make_unique<CallbackReceiver>(o);
        ASSERT_EQ(m_receiver->start(), "");
    }

    http::HttpResponse post(const std::string& body, const std::string& token = k_token) {
        http::HttpRequest rq;
        rq.method = "POST";
        rq.url = m_receiver->url();
        rq.body = body;
        rq.headers = {"Content-Type: application/json"};
        if (!token.empty()) rq.headers.push_back("Authorization: Bearer " + token);
        return http::http_request(rq);
    }

    std::string scalar(const std::string& sql) {
        pg::Connection c = connect(m_db);
        pg::Result r = c.exec(sql);
        EXPECT_TRUE(r.ok()) << r.error();
        return r.ok() && r.rows() > 0 ? std::string(r.text(0, 0)) : std::string();
    }

    static nlohmann::json callback(const std::string& txid, const std::string& status) {
        return {{"timestamp", "2026-11-28T00:00:00Z"},
                {"txid", txid},
                {"txStatus", status},
                {"blockHeight", 800001},
                {"blockHash", std::string(64, 'b')}};
    }

    std::string m_db;
    std::unique_ptr<CallbackReceiver> m_receiver;
};

TEST_F(CallbackReceiverTest, AWrongOrMissingTokenChangesNothing) {
    const std::string body = callback(txid_of(1), "MINED").dump();
    EXPECT_EQ(post(body, "wrong-token").status, 401);
    EXPECT_EQ(post(body, "").status, 401);
    EXPECT_EQ(post(body, k_token + "x").status, 401);
    EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs WHERE status = 'confirmed'"), "0");
    EXPECT_EQ(m_receiver->stats().unauthorized, 3u);
}

TEST_F(CallbackReceiverTest, MinedConfirmsTheJobOnceAndABatchIsWrittenAtOnce) {
    const auto r = post(callback(txid_of(1), "MINED").dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(scalar("SELECT status || ':' || (confirmed_at IS NOT NULL) FROM publish_jobs WHERE "
                     "job_id = 'job-1'"),
              "confirmed:true");
    // A batch: job 2 (sent), job 3 (signed, sent fact not landed yet), job 1
    // again (ARC retrying), an unknown txid, and a SEEN_ON_NETWORK.
    nlohmann::json batch = {{"count", 5},
                            {"callbacks",
                             {callback(txid_of(2), "MINED"), callback(txid_of(3), "MINED"),
                              callback(txid_of(1), "MINED"), callback(txid_of(99), "MINED"),
                              callback(txid_of(2), "SEEN_ON_NETWORK")}}};
    const auto b = post(batch.dump());
    ASSERT_EQ(b.status, 200) << b.body;
    EXPECT_EQ(scalar("SELECT string_agg(job_id, ',' ORDER BY job_id) FROM publish_jobs WHERE "
                     "status = 'confirmed' AND confirmed_at IS NOT NULL AND sent_at IS NOT NULL"),
              "job-1,job-2,job-3");
    const CallbackStats s = m_receiver->stats();
    EXPECT_EQ(s.confirmed, 3u);
    EXPECT_EQ(s.callbacks, 6u);
    EXPECT_EQ(s.unknown_txids, 1u);
    // Recorded: the SEEN_ON_NETWORK and the MINED for a txid no job has.
    EXPECT_EQ(scalar("SELECT count(*) FROM audit_log WHERE event = 'arc_status'"), "2");
}

TEST_F(CallbackReceiverTest, MinedForAFailedJobIsRecordedNotConfirmed) {
    ASSERT_EQ(post(callback(txid_of(4), "MINED").dump()).status, 200);
    EXPECT_EQ(scalar("SELECT status FROM publish_jobs WHERE job_id = 'job-4'"), "failed");
    EXPECT_EQ(scalar("SELECT job_id || ':' || (detail ->> 'txStatus') FROM audit_log WHERE event = "
                     "'arc_status'"),
              "job-4:MINED");
}

TEST_F(CallbackReceiverTest, UnreadableBodiesAreRefusedWith400) {
    EXPECT_EQ(post("not json").status, 400);
    EXPECT_EQ(post(R"({"txStatus":"MINED"})").status, 400);  // no txid
    EXPECT_EQ(post(R"({"callbacks":{"txid":"x"}})").status, 400);
    EXPECT_EQ(m_receiver->stats().bad_requests, 3u);
    EXPECT_EQ(scalar("SELECT count(*) FROM audit_log"), "0");
}

TEST(CallbackReceiver, ATokenIsRequired) {
    CallbackReceiverOptions o;
    EXPECT_THROW(CallbackReceiver r(o), std::invalid_argument);
}

}  // namespace
}  // namespace raregen::callbacks
