// Switching over from the old RareGen service in place: its own schema
// (tests/data/old_service/schema.sql, its migrations 001-006), filled as it
// leaves it, then `raregen run --adopt-legacy` against it, sending to the
// local ARC-compatible network. Checked against the database AND the
// network's accepted set:
//   - every old queued job, and every job of the batch it stopped midway
//     that never reached the network, published exactly once, under its old
//     text id, with the old record hash;
//   - its sending job (a UTXO reserved, a transaction perhaps broadcast, no
//     txid recorded) is reported for the operator and left as it was;
//   - history rows (sent, failed) byte-identical, updated_at included;
//   - no reserved, spent or dirty UTXO spent again, the old split's change
//     (a large 'publish' output) untouched, no fee above 100 sat;
//   - the seed's monitoring queries still answer.
// Without --adopt-legacy, a run leaves the old service's batch alone and says so.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "storage/pg/migrations.h"
#include "tests/storage/pg/pg_test_env.h"
#include "tests/tools/raregen/cli_runner.h"
#include "tests/tools/raregen/local_network.h"

namespace raregen::test {
namespace {

constexpr int k_queued = 120;  // queued by the old API, never picked up
constexpr int k_batch = 30;    // the old batch: 1..9 sent, 10 sending, 11..30 waiting
constexpr int k_batch_sent = 9;
constexpr int k_history_sent = 40;  // older history
constexpr int k_history_failed = 10;
constexpr const char* k_old_batch = "batch_1733300000000_x7k2qa";

class SwitchOver : public pg::testing::PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        m_db = fresh_database();
        pg::Connection c = connect(m_db);
        const std::string schema =
            read_file(std::string(RAREGEN_TESTDATA_DIR) + "/old_service/schema.sql");
        ASSERT_FALSE(schema.empty());
        pg::Result r = c.exec(schema);
        ASSERT_TRUE(r.ok()) << r.error();
        ASSERT_EQ(
            run_cli({"keys", "generate", "--testnet", "--out", m_dir.path("key.wif")}).exit_code,
            0);
        const CliResult addr = run_cli({"keys", "address", "--wif-file", m_dir.path("key.wif")});
        ASSERT_EQ(addr.exit_code, 0) << addr.err;
        m_address = addr.json().at("address");
        m_script = "76a914" + addr.json().at("pubkey_hash").get<std::string>() + "88ac";
    }

    std::string scalar(const std::string& sql) {
        pg::Connection c = connect(m_db);
        pg::Result r = c.exec(sql);
        EXPECT_TRUE(r.ok()) << r.error() << "\n" << sql;
        return r.ok() && r.rows() > 0 ? std::string(r.text(0, 0)) : std::string();
    }

    // The old service's rows. UTXOs are real outputs of the key on `net`, so
    // that spending one the engine must not touch would be accepted by the
    // network and seen.
    void fill(const LocalNetwork& net) {
        ASSERT_TRUE(net.fund_and_split(m_dir.path("key.wif"), 300, m_dir.path("utxos.txt")));
        std::ifstream in(m_dir.path("utxos.txt"));
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream ls(line);
            std::string outpoint;
            long long sats = 0;
            if (ls >> outpoint >> sats) m_outpoints.push_back(outpoint);
        }
        ASSERT_EQ(m_outpoints.size(), 300u);
        // The old split's change, recorded under 'publish' as its
        // add-split-utxos.sql does.
        const CliResult fund = run_cli({"network", "fund", "--url", net.url(), "--address",
                                        m_address, "--satoshis", "961722"});
        ASSERT_EQ(fund.exit_code, 0) << fund.err;
        m_change = fund.json().at("txid").get<std::string>() + ":" +
                   std::to_string(fund.json().at("outputs").at(0).at("vout").get<int>());

        pg::Connection c = connect(m_db);
        auto exec = [&](const std::string& sql) {
            pg::Result r = c.exec(sql);
            ASSERT_TRUE(r.ok()) << r.error() << "\n" << sql;
        };
        auto utxo_row = [&](const std::string& outpoint, long long sats, const std::string& rest) {
            const auto colon = outpoint.find(':');
            return "('" + outpoint.substr(0, colon) + "', " + outpoint.substr(colon + 1) + ", " +
                   std::to_string(sats) + ", '" + m_script + "', '" + m_address + "', 'publish', " +
                   rest + ")";
        };
        // 0..249 available, 250..259 spent (history), 260..264 reserved
        // (260 by the sending job), 265..269 dirty, 270..299 not recorded.
        std::string sql =
            "INSERT INTO utxos (txid, vout, satoshis, script_pub_key, address, purpose, status, "
            "spent_at, spent_by_txid, reserved_at, reserved_until, dirty) VALUES ";
        for (int i = 0; i < 270; ++i) {
            std::string rest;
            if (i < 250)
                rest = "'available', NULL, NULL, NULL, NULL, false";
            else if (i < 260)
                rest = "'spent', '2024-11-01 10:00:00', '" + std::string(64, 'e') +
                       "', NULL, NULL, false";
            else if (i < 265)
                rest =
                    "'reserved', NULL, NULL, '2024-11-02 09:00:00', '2024-11-02 09:05:00', false";
            else
                rest = "'available', NULL, NULL, NULL, NULL, true";
            sql += utxo_row(m_outpoints[i], 100, rest) + ",";
            if (i >= 250) m_untouchable.insert(m_outpoints[i]);
        }
        sql += utxo_row(m_change, 961722, "'available', NULL, NULL, NULL, NULL, false");
        m_untouchable.insert(m_change);
        exec(sql);

        // Jobs: ids, records and hashes as the old API made them.
        auto job = [&](const std::string& id, int n, const std::string& status,
                       const std::string& extra_cols, const std::string& extra_vals) {
            const std::string canonical = "{\"assetId\":\"asset-" + std::to_string(n) +
                                          "\",\"recordId\":\"rec-" + std::to_string(n) +
                                          "\",\"type\":\"music\"}";
            return "INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, "
                   "status, created_at, updated_at" +
                   extra_cols + ") VALUES ('" + id + "', 'rec-" + std::to_string(n) + "', '" +
                   canonical + "', encode(sha256(convert_to('" + canonical +
                   "', 'UTF8')), 'hex'), '" + status + "', TIMESTAMP '2024-11-01 08:00:00' + " +
                   std::to_string(n) +
                   " * interval '1 second', TIMESTAMP '2024-11-01 09:00:00' + " +
                   std::to_string(n) + " * interval '1 second'" + extra_vals + ");";
        };
        auto history = [&](std::string id) {
            m_history.push_back(id);
            return id;
        };
        std::string jobs;
        int n = 0;
        for (int i = 0; i < k_history_sent; ++i, ++n)
            jobs += job(
                history("job_17300000" + std::to_string(10000 + n) + "_h" + std::to_string(i)), n,
                "sent", ", txid, sent_at",
                ", '" + std::string(63, 'a') + std::to_string(i % 10) + "', '2024-11-01 10:00:00'");
        for (int i = 0; i < k_history_failed; ++i, ++n)
            jobs +=
                job(history("job_17300000" + std::to_string(10000 + n) + "_f" + std::to_string(i)),
                    n, "failed", ", error_code, error_detail",
                    ", 'BROADCAST_ERROR', 'Request failed with status code 500'");
        for (int seq = 1; seq <= k_batch; ++seq, ++n) {
            const std::string id =
                "job_17333" + std::to_string(10000 + n) + "_b" + std::to_string(seq);
            const std::string batch_cols = ", processing_batch_id, batch_seq";
            const std::string batch_vals =
                ", '" + std::string(k_old_batch) + "', " + std::to_string(seq);
            if (seq <= k_batch_sent) {
                jobs += job(
                    history(id), n, "sent", batch_cols + ", txid, sent_at, sending_started_at",
                    batch_vals + ", '" + std::string(62, 'b') + (seq < 10 ? "0" : "") +
                        std::to_string(seq) + "', '2024-11-02 08:59:00', '2024-11-02 08:58:00'");
            } else if (seq == k_batch_sent + 1) {
                m_sending_job = id;
                jobs += job(id, n, "sending", batch_cols + ", sending_started_at",
                            batch_vals + ", '2024-11-02 09:00:00'");
            } else {
                jobs += job(id, n, "processing_batch", batch_cols, batch_vals);
            }
        }
        for (int i = 0; i < k_queued; ++i, ++n)
            jobs += job("job_17334" + std::to_string(10000 + n) + "_q" + std::to_string(i), n,
                        "queued", "", "");
        exec(jobs);
        exec("INSERT INTO publish_batches (batch_id, job_count, status, created_at) VALUES ('" +
             std::string(k_old_batch) + "', " + std::to_string(k_batch) +
             ", 'broadcasting', '2024-11-02 08:57:00')");
        exec(
            "INSERT INTO audit_log (event_type, resource_type, resource_id, action) VALUES "
            "('publish_requested', 'job', 'job_1', 'create')");
    }

    // The old service's columns of its history rows (sent, failed), as text.
    std::string history_snapshot() {
        std::string ids;
        for (const std::string& id : m_history)
            ids += (ids.empty() ? "'" : ",'") + id + "'";
        return scalar(
            "SELECT string_agg(ROW(id, job_id, record_id, record_canonical, record_hash, cdn_url, "
            "file_sha256, status, txid, error_code, error_detail, created_at, sent_at, "
            "confirmed_at, updated_at, processing_batch_id, batch_seq, sending_started_at)::text, "
            "'|' ORDER BY job_id) FROM publish_jobs WHERE job_id IN (" +
            ids + ")");
    }
    std::string sending_snapshot() {
        return scalar(
            "SELECT ROW(id, job_id, status, txid, processing_batch_id, batch_seq, "
            "sending_started_at, updated_at)::text FROM publish_jobs WHERE job_id = '" +
            m_sending_job + "'");
    }
    // The reserved, spent and dirty rows and the change, as they are.
    std::string untouchable_utxos_snapshot() {
        std::string list;
        for (const std::string& o : m_untouchable)
            list += (list.empty() ? "'" : ",'") + o + "'";
        return scalar(
            "SELECT string_agg(ROW(id, txid, vout, satoshis, script_pub_key, address, "
            "purpose, status, reserved_at, reserved_by_job_id, spent_at, spent_by_txid, "
            "created_at, updated_at, reserved_until, dirty)::text, '|' ORDER BY txid, "
            "vout) FROM utxos WHERE txid || ':' || vout IN (" +
            list + ")");
    }

    CliResult run(const LocalNetwork& net, const std::vector<std::string>& extra) {
        std::ofstream(m_dir.path("none.ndjson")).close();
        std::vector<std::string> args = {"run",
                                         "--intents",
                                         m_dir.path("none.ndjson"),
                                         "--key-file",
                                         m_dir.path("key.wif"),
                                         "--arc-url",
                                         net.url(),
                                         "--progress",
                                         "0",
                                         "--window-ms",
                                         "100",
                                         "--no-gate"};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_cli(CliCall{args, {}, {{"DATABASE_URL", m_db}}});
    }

    TempDir m_dir;
    std::string m_db, m_address, m_script, m_change, m_sending_job;
    std::vector<std::string> m_outpoints;
    std::vector<std::string> m_history;  // the old service's sent and failed jobs
    std::set<std::string> m_untouchable;
};

TEST_F(SwitchOver, TheOldServicesDatabaseIsTakenOverAndEveryOldJobPublishedOnce) {
    LocalNetwork net(m_dir, {"--block-interval-ms", "500"});
    ASSERT_FALSE(net.url().empty());
    ASSERT_NO_FATAL_FAILURE(fill(net));
    const std::string history_before = history_snapshot();
    const std::string sending_before = sending_snapshot();
    const std::string utxos_before = untouchable_utxos_snapshot();

    // Without --adopt-legacy: the queued rows are claimed and published; the
    // old service's batch is its own, and the run says how to take it over.
    const CliResult first = run(net, {});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_NE(first.err.find("--adopt-legacy"), std::string::npos) << first.err;
    EXPECT_EQ(first.json()["legacy"]["left_to_old_service"]["processing_batch"],
              k_batch - k_batch_sent - 1);
    EXPECT_EQ(first.json()["legacy"]["left_to_old_service"]["sending"], 1);
    EXPECT_EQ(first.json()["recovery"]["claimed"], k_queued);
    EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs WHERE status = 'processing_batch'"),
              std::to_string(k_batch - k_batch_sent - 1));

    // The operator stopped the old service for good: take its batch over.
    const CliResult second = run(net, {"--adopt-legacy"});
    ASSERT_EQ(second.exit_code, 0) << second.err;
    const nlohmann::json legacy = second.json()["legacy"];
    EXPECT_EQ(legacy["requeued_from_processing_batch"], k_batch - k_batch_sent - 1);
    ASSERT_EQ(legacy["unresolved"].size(), 1u) << legacy.dump();
    EXPECT_EQ(legacy["unresolved"][0]["job_id"], m_sending_job);
    EXPECT_NE(legacy["unresolved"][0]["why"].get<std::string>().find("without a txid"),
              std::string::npos);
    EXPECT_EQ(second.json()["recovery"]["claimed"], k_batch - k_batch_sent - 1);
    // Once more: nothing left to do, nothing published again.
    const CliResult third = run(net, {"--adopt-legacy"});
    ASSERT_EQ(third.exit_code, 0) << third.err;
    EXPECT_EQ(third.json()["recovery"]["claimed"], 0);
    EXPECT_EQ(third.json()["legacy"]["requeued_from_processing_batch"], 0);

    // Every job that never reached the network: published exactly once, as
    // the network sees it, under its old id and hash.
    const int expected = k_queued + k_batch - k_batch_sent - 1;
    EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs WHERE status = 'sent' AND instance_id "
                     "IS NOT NULL AND job_id LIKE 'job\\_%'"),
              std::to_string(expected));
    EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs WHERE status IN ('queued', "
                     "'processing_batch', 'failed') AND instance_id IS NOT NULL"),
              "0");
    const AcceptedSet a = accepted_publications(net);
    EXPECT_TRUE(a.problems.empty());
    EXPECT_EQ(a.publications, static_cast<std::size_t>(expected));
    for (const auto& [record, txids] : a.txids_by_record)
        EXPECT_EQ(txids.size(), 1u) << "record " << record << " published twice";
    {
        pg::Connection c = connect(m_db);
        pg::Result rows = c.exec(
            "SELECT record_hash, txid FROM publish_jobs WHERE status = 'sent' AND instance_id IS "
            "NOT NULL");
        ASSERT_TRUE(rows.ok()) << rows.error();
        ASSERT_EQ(rows.rows(), expected);
        for (int i = 0; i < rows.rows(); ++i) {
            auto it = a.txids_by_record.find(std::string(rows.text(i, 0)));
            ASSERT_NE(it, a.txids_by_record.end()) << "not on the network: " << rows.text(i, 0);
            EXPECT_EQ(it->second.front(), rows.text(i, 1));
        }
    }
    // Only recorded, available, clean 100-sat outputs were spent: no
    // reserved, spent or dirty one, not the change, none twice; every
    // publication's fee is at most its 100-sat input.
    for (const auto& [outpoint, txids] : a.txids_by_outpoint) {
        EXPECT_EQ(txids.size(), 1u) << outpoint << " spent twice";
        EXPECT_EQ(m_untouchable.count(outpoint), 0u) << outpoint << " must not be spent";
        const auto at = std::find(m_outpoints.begin(), m_outpoints.end(), outpoint);
        EXPECT_TRUE(at != m_outpoints.end() && at - m_outpoints.begin() < 250) << outpoint;
    }
    EXPECT_EQ(scalar("SELECT status FROM utxos WHERE satoshis = 961722"), "available");

    // History and the sending job: not a byte changed.
    EXPECT_TRUE(history_snapshot() == history_before) << "history rows were rewritten";
    EXPECT_TRUE(sending_snapshot() == sending_before) << "the old sending job was touched";
    EXPECT_TRUE(untouchable_utxos_snapshot() == utxos_before)
        << "reserved, spent, dirty or large UTXOs were touched";
    // The old batch's jobs remember where they came from.
    EXPECT_EQ(scalar("SELECT count(*) FROM audit_log WHERE event = 'legacy_requeued' AND "
                     "detail ->> 'old_batch_id' = '" +
                     std::string(k_old_batch) + "'"),
              std::to_string(k_batch - k_batch_sent - 1));
    EXPECT_EQ(scalar("SELECT count(*) FROM audit_log WHERE event_type IS NULL"), "0");

    // The seed's monitoring queries (its test-monitoring-queries.sql) answer.
    for (const char* q :
         {"SELECT COUNT(*) AS sent_last_3s, ROUND(COUNT(*) / 3.0, 2) AS tx_per_sec FROM "
          "publish_jobs WHERE status='sent' AND sent_at > NOW() - INTERVAL '3 seconds'",
          "SELECT COUNT(*) AS stuck_sending FROM publish_jobs WHERE status='sending' AND "
          "sending_started_at < NOW() - INTERVAL '2 minutes'",
          "SELECT status, COUNT(*) AS n, ROUND(COUNT(*) / 166.67, 1) AS seconds_at_ceiling "
          "FROM utxos WHERE purpose='publish' AND satoshis=100 GROUP BY status ORDER BY status",
          "SELECT status, COUNT(*) AS jobs FROM publish_jobs GROUP BY status",
          "SELECT DATE_TRUNC('second', sent_at) AS second, COUNT(*) AS tx_count FROM "
          "publish_jobs WHERE status='sent' AND sent_at > NOW() - INTERVAL '2 minutes' GROUP "
          "BY DATE_TRUNC('second', sent_at) ORDER BY second DESC LIMIT 60"}) {
        pg::Connection c = connect(m_db);
        pg::Result r = c.exec(q);
        EXPECT_TRUE(r.ok()) << r.error() << "\n" << q;
    }
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM publish_jobs WHERE status='sending' AND "
                     "sending_started_at < NOW() - INTERVAL '2 minutes'"),
              "1");  // the one the operator must decide about
}

}  // namespace
}  // namespace raregen::test
