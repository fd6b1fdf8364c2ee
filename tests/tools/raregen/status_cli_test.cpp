// `raregen status` as an operator runs it: JSON by default, tables with
// --table, exit 1 with --fail-on-broken when a batch is not sequential, and
// a clear refusal without DATABASE_URL. (The queries' figures are checked
// in tests/service/status.)

#include <gtest/gtest.h>

#include <string>

#include "storage/pg/migrations.h"
#include "tests/storage/pg/pg_test_env.h"
#include "tests/tools/raregen/cli_runner.h"

namespace raregen::test {
namespace {

class StatusCli : public pg::testing::PgTest {};

TEST_F(StatusCli, ReportsAsJsonOrTablesAndFailsOnABrokenBatchWhenAsked) {
    const std::string db = fresh_database();
    {
        pg::Connection c = connect(db);
        ASSERT_TRUE(pg::migrate(c).ok());
        ASSERT_TRUE(c.exec("INSERT INTO publish_batches (batch_id, job_count, status) VALUES "
                           "('b-1', 2, 'closed')")
                        .ok());
        ASSERT_TRUE(c.exec("INSERT INTO publish_jobs (job_id, record_id, record_canonical, "
                           "record_hash, status, processing_batch_id, batch_seq) VALUES ('j-1', "
                           "'r-1', '{}', repeat('a', 64), 'queued', 'b-1', 1)")
                        .ok());
    }
    const std::vector<std::pair<std::string, std::string>> env = {{"DATABASE_URL", db}};
    CliResult r = run_cli(CliCall{{"status"}, {}, env});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = r.json();
    EXPECT_EQ(j.at("batches").at("not_sequential"), 1);
    EXPECT_EQ(j.at("stuck_sending"), 0);

    r = run_cli(CliCall{{"status", "--table"}, {}, env});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Batches: 1 newest checked, 0 sequential, 1 not"), std::string::npos)
        << r.out;

    r = run_cli(CliCall{{"status", "--fail-on-broken"}, {}, env});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("not sequential"), std::string::npos) << r.err;

    r = run_cli(CliCall{{"status"}, {}, {{"DATABASE_URL", ""}}});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("DATABASE_URL is not set"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace raregen::test
