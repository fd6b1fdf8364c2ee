// `raregen utxos replenish` SIGKILLed at random moments while it splits one
// funding output on the local network (with injected latency and 503s, so
// kills land between recording a split and its answer), then one pass that
// settles what the killed ones left. The network's own ledger and the
// database must agree: every split transaction the network holds is
// recorded accepted (and the other way round), no output is spent by two
// transactions, and the funding is accounted for to the satoshi (publish
// outputs + the change left + fees = the funding output).

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "engine/chain/bytes.h"
#include "engine/chain/tx.h"
#include "storage/pg/migrations.h"
#include "tests/storage/pg/pg_test_env.h"
#include "tests/tools/raregen/cli_runner.h"
#include "tests/tools/raregen/local_network.h"

namespace raregen::test {
namespace {

using namespace std::chrono_literals;

class ReplenishCrash : public pg::testing::PgTest {
  protected:
    std::string scalar(const std::string& sql) {
        pg::Connection c = connect(m_db);
        pg::Result r = c.exec(sql);
        EXPECT_TRUE(r.ok()) << r.error() << "\n" << sql;
        return r.ok() && r.rows() > 0 && !r.is_null(0, 0) ? std::string(r.text(0, 0))
                                                          : std::string();
    }
    std::int64_t number(const std::string& sql) {
        const std::string s = scalar(sql);
        return s.empty() ? -1 : std::stoll(s);
    }

    TempDir m_dir;
    std::string m_db;
};

TEST_F(ReplenishCrash, SigkillDuringSplitsSpendsNothingTwiceAndAccountsForEverySatoshi) {
    constexpr int k_kills = 10;
    m_db = fresh_database();
    {
        pg::Connection c = connect(m_db);
        ASSERT_TRUE(pg::migrate(c).ok());
    }
    LocalNetwork net(m_dir, {"--latency-ms", "5:40", "--fail", "503=0.1", "--seed", "11",
                             "--block-interval-ms", "0"});
    ASSERT_FALSE(net.url().empty());
    const std::string key = m_dir.path("key.wif");
    ASSERT_EQ(run_cli({"keys", "generate", "--testnet", "--out", key}).exit_code, 0);
    const std::string address =
        run_cli({"keys", "address", "--wif-file", key}).json().at("address");
    const CliResult fund = run_cli(
        {"network", "fund", "--url", net.url(), "--address", address, "--satoshis", "3000000"});
    ASSERT_EQ(fund.exit_code, 0) << fund.err;
    const nlohmann::json f = fund.json();
    const std::string funding_txid = f.at("txid");
    const std::int64_t funding_sats = f.at("outputs").at(0).at("satoshis");
    const std::string from = funding_txid + ":" +
                             std::to_string(f.at("outputs").at(0).at("vout").get<int>()) + ":" +
                             std::to_string(funding_sats);
    ASSERT_EQ(run_cli(CliCall{{"utxos", "import", "--purpose", "funding", from},
                              {},
                              {{"DATABASE_URL", m_db}}})
                  .exit_code,
              0);

    // Each killed pass would split 20,000 outputs, 25 per transaction: far
    // more than it has time for.
    const std::vector<std::string> pass = {
        "utxos",           "replenish", "--key-file",         key,     "--arc-url", net.url(),
        "--min-pool-size", "1000000",   "--split-batch-size", "20000", "--per-tx",  "25",
        "--attempts",      "20"};
    std::mt19937 rng(20261205);
    std::uniform_int_distribution<int> moment_ms(30, 700);
    int kills = 0, killed_splitting = 0;
    for (int attempt = 0; kills < k_kills && attempt < 3 * k_kills; ++attempt) {
        const std::int64_t before = number("SELECT count(*) FROM raregen_splits");
        const pid_t pid = spawn_cli(pass, m_db, m_dir.path("killed"));
        // Half the kills after the pass has begun splitting, half at any moment.
        if (attempt % 2 == 1) {
            for (int i = 0; i < 2000 && number("SELECT count(*) FROM raregen_splits") == before;
                 ++i)
                std::this_thread::sleep_for(5ms);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(moment_ms(rng)));
        if (number("SELECT count(*) FROM raregen_splits") > before) ++killed_splitting;
        ::kill(pid, SIGKILL);
        EXPECT_EQ(wait_cli(pid), 128 + SIGKILL) << read_file(m_dir.path("killed.err"));
        ++kills;
    }
    EXPECT_EQ(kills, k_kills);
    EXPECT_GE(killed_splitting, k_kills / 2) << "too few kills landed while splitting";

    // One pass to the end: settles what the killed passes left, splits nothing new.
    const CliResult last = run_cli(CliCall{{"utxos", "replenish", "--key-file", key, "--arc-url",
                                            net.url(), "--min-pool-size", "0", "--attempts", "20"},
                                           {},
                                           {{"DATABASE_URL", m_db}}});
    ASSERT_EQ(last.exit_code, 0) << last.err << last.out;
    const nlohmann::json settled = last.json();
    EXPECT_EQ(settled["transactions"], 0);
    EXPECT_EQ(number("SELECT count(*) FROM raregen_splits WHERE status = 'signed'"), 0);
    EXPECT_EQ(number("SELECT count(*) FROM raregen_splits WHERE status = 'refused'"), 0);
    const std::int64_t accepted =
        number("SELECT count(*) FROM raregen_splits WHERE status = 'accepted'");
    EXPECT_GT(accepted, 10);

    // The network's ledger: its non-publication transactions other than
    // the funding one are exactly the splits recorded accepted, and no
    // outpoint is spent twice.
    const nlohmann::json all = net.get("/admin/txs");
    ASSERT_FALSE(all.is_null());
    std::set<std::string> network_splits;
    std::map<std::string, int> spends;
    for (const auto& t : all.at("txs")) {
        const std::string txid = t.at("txid");
        const auto bytes = chain::from_hex(t.at("rawTx").get<std::string>());
        chain::Transaction tx;
        ASSERT_TRUE(bytes && chain::parse_transaction(*bytes, tx).ok()) << txid;
        for (const auto& in : tx.inputs)
            ++spends[chain::hash_to_display(in.prevout.txid) + ":" +
                     std::to_string(in.prevout.vout)];
        if (txid != funding_txid && !chain::published_record_hash(tx)) network_splits.insert(txid);
    }
    for (const auto& [outpoint, n] : spends)
        EXPECT_EQ(n, 1) << outpoint << " spent by " << n << " transactions";
    std::set<std::string> recorded;
    {
        pg::Connection c = connect(m_db);
        pg::Result r = c.exec("SELECT txid FROM raregen_splits WHERE status = 'accepted'");
        ASSERT_TRUE(r.ok()) << r.error();
        for (int i = 0; i < r.rows(); ++i)
            recorded.insert(std::string(r.text(i, 0)));
    }
    EXPECT_EQ(network_splits, recorded);

    // Every satoshi: the publish outputs in the table, the one change left,
    // the fees, against the funding output.
    EXPECT_EQ(number("SELECT count(*) FROM utxos WHERE purpose = 'publish'"),
              number("SELECT sum(outputs) FROM raregen_splits WHERE status = 'accepted'"));
    EXPECT_EQ(number("SELECT count(*) FROM utxos WHERE purpose IN ('funding', 'change') AND "
                     "status = 'available'"),
              1);
    EXPECT_EQ(number("SELECT (SELECT sum(satoshis) FROM utxos WHERE purpose = 'publish') + "
                     "(SELECT sum(satoshis) FROM utxos WHERE purpose IN ('funding', 'change') "
                     "AND status = 'available') + (SELECT sum(fee) FROM raregen_splits)"),
              funding_sats);
    std::printf(
        "[ replen   ] %d kills (%d while splitting), %d splits left pending and settled "
        "by the last pass, %lld splits accepted, %lld outputs\n",
        kills, killed_splitting, settled["pending_accepted"].get<int>(),
        static_cast<long long>(accepted),
        static_cast<long long>(number("SELECT count(*) FROM utxos WHERE purpose = "
                                      "'publish'")));
}

}  // namespace
}  // namespace raregen::test
