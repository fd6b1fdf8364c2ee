#include "storage/pg/connection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/storage/pg/pg_test_env.h"

namespace raregen::pg {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::PgTest;

// ---- statements and results ----------------------------------------------------

class PgConnection : public PgTest {};

TEST_F(PgConnection, ExecReturnsTypedValues) {
    Connection c = connect(m_pg->conninfo());
    ASSERT_TRUE(c.ok());
    Result r = c.exec("SELECT 42::int8, 'héllo'::text, NULL::text, '\\xdeadbeef'::bytea, 'x'");
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r.rows(), 1);
    ASSERT_EQ(r.columns(), 5);
    EXPECT_EQ(r.int64(0, 0), 42);
    EXPECT_EQ(r.text(0, 1), "héllo");
    EXPECT_TRUE(r.is_null(0, 2));
    EXPECT_EQ(r.text(0, 2), "");
    EXPECT_EQ(r.int64(0, 2), std::nullopt);
    EXPECT_EQ(r.bytes(0, 3), (std::vector<std::uint8_t>{0xde, 0xad, 0xbe, 0xef}));
    EXPECT_EQ(r.int64(0, 4), std::nullopt);  // not an integer
    EXPECT_EQ(r.status().ok(), true);
    EXPECT_EQ(r.error(), "");
}

TEST_F(PgConnection, ExecParamsBindsEveryKindOfParameter) {
    Connection c = connect(m_pg->conninfo());
    const std::string text = "it's \"quoted\" ; DROP TABLE x; --";
    const std::string whole = "abcdef";
    const std::string_view unterminated = std::string_view(whole).substr(1, 3);  // "bcd", no NUL
    const std::vector<std::uint8_t> blob{0x00, 0x01, 0xff, 0x00, 0x7f};
    const std::optional<int> some = 7;
    const std::optional<int> none;
    Result r = c.exec_params(
        "SELECT $1::text, $2::int8, $3::int8, $4::bool, $5::bytea, $6::text IS NULL, $7::text, "
        "$8::int4, $9::int4 IS NULL, length($5::bytea), $10::text IS NULL, $11::bool",
        text, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::uint32_t>::max(),
        true, Binary{blob}, std::nullopt, unterminated, some, none, nullptr, false);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.text(0, 0), text);
    EXPECT_EQ(r.int64(0, 1), std::numeric_limits<std::int64_t>::min());
    EXPECT_EQ(r.int64(0, 2), 4294967295);
    EXPECT_EQ(r.text(0, 3), "t");
    EXPECT_EQ(r.bytes(0, 4), blob);
    EXPECT_EQ(r.text(0, 5), "t");
    EXPECT_EQ(r.text(0, 6), "bcd");
    EXPECT_EQ(r.int64(0, 7), 7);
    EXPECT_EQ(r.text(0, 8), "t");
    EXPECT_EQ(r.int64(0, 9), 5);
    EXPECT_EQ(r.text(0, 10), "t");
    EXPECT_EQ(r.text(0, 11), "f");
}

TEST_F(PgConnection, ServerErrorsAreValuesWithSqlstate) {
    Connection c = connect(m_pg->conninfo());
    Result syntax = c.exec("SELEC 1");
    EXPECT_FALSE(syntax.ok());
    EXPECT_EQ(syntax.sqlstate(), "42601");
    EXPECT_THAT(syntax.error(), HasSubstr("syntax error"));
    EXPECT_EQ(syntax.status().sqlstate(), "42601");

    Result missing = c.exec_params("SELECT * FROM no_such_table WHERE x = $1", 1);
    EXPECT_FALSE(missing.ok());
    EXPECT_EQ(missing.sqlstate(), "42P01");
    // The connection stays usable after an error.
    Result after = c.exec("SELECT 1");
    EXPECT_TRUE(after.ok()) << after.error();
}

TEST_F(PgConnection, AffectedRowsAndQuotedIdentifiers) {
    Connection c = connect(fresh_database());
    const std::string table = c.quote_identifier("odd \"name\"");
    EXPECT_EQ(table, "\"odd \"\"name\"\"\"");
    ASSERT_TRUE(c.exec("CREATE TABLE " + table + " (x int)").ok());
    Result ins = c.exec("INSERT INTO " + table + " SELECT generate_series(1, 5)");
    ASSERT_TRUE(ins.ok()) << ins.error();
    EXPECT_EQ(ins.affected_rows(), 5u);
    Result del = c.exec_params("DELETE FROM " + table + " WHERE x > $1", 3);
    ASSERT_TRUE(del.ok()) << del.error();
    EXPECT_EQ(del.affected_rows(), 2u);
}

std::int64_t count_rows(Connection& c, const char* table) {
    Result r = c.exec(std::string("SELECT count(*) FROM ") + table);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? r.int64(0, 0).value_or(-1) : -1;
}

TEST_F(PgConnection, TransactionCommitsOrRollsBack) {
    Connection c = connect(fresh_database());
    ASSERT_TRUE(c.exec("CREATE TABLE t (x int PRIMARY KEY)").ok());

    Status committed = c.transaction(
        [](Connection& tx) { return tx.exec_params("INSERT INTO t VALUES ($1)", 1).status(); });
    EXPECT_TRUE(committed.ok()) << committed.message();
    EXPECT_EQ(count_rows(c, "t"), 1);

    // The callback reports a failure: rolled back, its status returned.
    Status refused = c.transaction([](Connection& tx) {
        EXPECT_TRUE(tx.exec_params("INSERT INTO t VALUES ($1)", 2).ok());
        return Status::failure("changed my mind");
    });
    EXPECT_FALSE(refused.ok());
    EXPECT_EQ(refused.message(), "changed my mind");
    EXPECT_EQ(count_rows(c, "t"), 1);

    // A statement fails, and the callback returns its status.
    Status dup = c.transaction(
        [](Connection& tx) { return tx.exec_params("INSERT INTO t VALUES ($1)", 1).status(); });
    EXPECT_FALSE(dup.ok());
    EXPECT_EQ(dup.sqlstate(), "23505");

    // A statement fails but the callback claims success: COMMIT would roll
    // back silently; the helper reports it instead.
    Status ignored = c.transaction([](Connection& tx) {
        tx.exec_params("INSERT INTO t VALUES ($1)", 3);
        tx.exec_params("INSERT INTO t VALUES ($1)", 1);  // duplicate: aborts the transaction
        return Status::success();
    });
    EXPECT_FALSE(ignored.ok());
    EXPECT_THAT(ignored.message(), HasSubstr("rolled back"));
    EXPECT_EQ(count_rows(c, "t"), 1);

    // The callback throws: rolled back, exception passed on, connection idle.
    EXPECT_THROW(c.transaction([](Connection& tx) -> Status {
        tx.exec_params("INSERT INTO t VALUES ($1)", 4);
        throw std::runtime_error("boom");
    }),
                 std::runtime_error);
    EXPECT_EQ(PQtransactionStatus(c.native()), PQTRANS_IDLE);
    EXPECT_EQ(count_rows(c, "t"), 1);

    // Nested use is refused.
    Status nested = c.transaction([](Connection& tx) {
        return tx.transaction([](Connection&) { return Status::success(); });
    });
    EXPECT_FALSE(nested.ok());
    EXPECT_THAT(nested.message(), HasSubstr("already in a transaction"));

    // Isolation levels are honoured.
    Status serializable = c.transaction(
        [](Connection& tx) {
            Result r = tx.exec("SHOW transaction_isolation");
            EXPECT_EQ(r.text(0, 0), "serializable");
            return r.status();
        },
        Isolation::serializable);
    EXPECT_TRUE(serializable.ok()) << serializable.message();
}

TEST_F(PgConnection, ResetReconnectsAfterTheServerDropsTheConnection) {
    Connection c = connect(m_pg->conninfo());
    Connection admin = connect(m_pg->conninfo());
    Result pid = c.exec("SELECT pg_backend_pid()");
    ASSERT_TRUE(pid.ok()) << pid.error();
    Result kill = admin.exec_params("SELECT pg_terminate_backend($1::int)", pid.text(0, 0));
    ASSERT_TRUE(kill.ok()) << kill.error();
    EXPECT_EQ(kill.text(0, 0), "t");

    Result lost = c.exec("SELECT 1");  // a value, not an exception
    EXPECT_FALSE(lost.ok());
    EXPECT_FALSE(lost.error().empty());
    EXPECT_FALSE(c.ok());
    Status st = c.reset();
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_TRUE(c.ok());
    Result again = c.exec("SELECT 2");
    ASSERT_TRUE(again.ok()) << again.error();
    EXPECT_EQ(again.int64(0, 0), 2);

    // A moved-from connection reports instead of crashing.
    Connection moved = std::move(c);
    EXPECT_TRUE(moved.ok());
    EXPECT_FALSE(c.ok());  // NOLINT(bugprone-use-after-move): testing exactly that
    EXPECT_FALSE(c.exec("SELECT 1").ok());
    EXPECT_FALSE(c.transaction([](Connection&) { return Status::success(); }).ok());
}

// ---- secrets never reach an error message -------------------------------------------

constexpr const char* k_secret = "S3cr3t-Pa55phrase";

TEST(PgConnectErrors, UnreachableServerErrorOmitsThePassword) {
    const std::vector<std::string> strings = {
        std::string("postgresql://alice:") + k_secret + "@/raregen?host=/nonexistent/raregen-sock",
        std::string("postgres://alice:") + k_secret +
            "@localhost:1/raregen?host=/nonexistent/raregen-sock",
        std::string("host=/nonexistent/raregen-sock user=alice dbname=raregen password=") +
            k_secret,
        std::string("host=/nonexistent/raregen-sock password='") + k_secret + " with space'",
        "postgresql://alice:S3cr3t%40Pa55@/raregen?host=/nonexistent/raregen-sock",
    };
    for (const std::string& ci : strings) {
        Status error;
        std::optional<Connection> c = Connection::try_connect(ci, error);
        ASSERT_FALSE(c.has_value()) << describe_target(ci);
        EXPECT_THAT(error.message(), Not(HasSubstr("S3cr3t"))) << error.message();
        EXPECT_THAT(error.message(), Not(HasSubstr("Pa55"))) << error.message();
        EXPECT_THAT(error.message(), HasSubstr("/nonexistent/raregen-sock")) << error.message();
        EXPECT_THAT(error.message(), HasSubstr("Check DATABASE_URL")) << error.message();
        // The start-up form throws the same scrubbed message.
        try {
            Connection::connect(ci);
            ADD_FAILURE() << "connect() did not throw";
        } catch (const ConnectError& e) {
            EXPECT_THAT(std::string(e.what()), Not(HasSubstr("S3cr3t")));
        }
    }
}

TEST(PgConnectErrors, MalformedStringsNeverEchoThePassword) {
    const std::vector<std::string> strings = {
        // invalid percent-escape: libpq quotes the whole URL in its message
        "postgresql://alice:S3cr3t%zzLeak@localhost/raregen",
        // unquoted space: libpq complains about the second half of the password
        "host=localhost password=S3cr3t Leakage",
        // unterminated quote
        "host=localhost password='S3cr3tLeak",
        // unencoded '/' and '@': libpq would read part of it as host or port
        "postgresql://alice:S3cr3t/Leak@localhost/raregen",
        "postgresql://alice:S3cr3t@Leak@localhost/raregen",
        // bad query parameter after a good password
        "postgresql://alice:S3cr3tLeak@localhost/raregen?no_such_option=1",
    };
    for (const std::string& ci : strings) {
        Status error;
        std::optional<Connection> c = Connection::try_connect(ci, error);
        ASSERT_FALSE(c.has_value());
        EXPECT_THAT(error.message(), Not(HasSubstr("S3cr3t"))) << error.message();
        EXPECT_THAT(error.message(), Not(HasSubstr("Leak"))) << error.message();
        EXPECT_FALSE(error.message().empty());
    }
    Status error;
    Connection::try_connect("postgresql://alice:S3cr3t%zzLeak@localhost/raregen", error);
    EXPECT_THAT(error.message(), HasSubstr("malformed"));
    Connection::try_connect("postgresql://alice:S3cr3t/Leak@localhost/raregen", error);
    EXPECT_THAT(error.message(), HasSubstr("percent-encode"));
}

// A real server asking for a password (scram-sha-256 for one role).
class PgPassword : public PgTest {
  protected:
    static constexpr const char* k_role = "pw_user";
    static constexpr const char* k_good = "Corr3ct-Horse-Battery";
    static constexpr const char* k_bad = "Wr0ng-Stap1e-Guess";

    void SetUp() override {
        PgTest::SetUp();
        if (HasFatalFailure()) return;
        Connection admin = connect(m_pg->conninfo());
        Result role = admin.exec(std::string("DROP ROLE IF EXISTS ") + k_role + "; CREATE ROLE " +
                                 k_role + " LOGIN PASSWORD '" + k_good + "'");
        ASSERT_TRUE(role.ok()) << role.error();
        // Password authentication for this role only; everyone else keeps trust.
        const std::string hba_path = m_pg->data_directory() + "/pg_hba.conf";
        std::ifstream in(hba_path);
        const std::string old((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
        in.close();
        std::ofstream out(hba_path, std::ios::trunc);
        out << "local all " << k_role << " scram-sha-256\n" << old;
        out.close();
        ASSERT_TRUE(out.good());
        Result reload = admin.exec("SELECT pg_reload_conf()");
        ASSERT_TRUE(reload.ok()) << reload.error();
        // The reload is asynchronous: wait until the role is asked for a password.
        bool asked = false;
        for (int i = 0; i < 500 && !asked; ++i) {
            PGconn* probe =
                PQconnectdb((m_pg->conninfo() + " user=" + k_role + " password=nothing").c_str());
            asked = PQstatus(probe) != CONNECTION_OK;
            PQfinish(probe);
            if (!asked) usleep(10'000);
        }
        ASSERT_TRUE(asked) << "the server never started asking " << k_role << " for a password";
        m_tmp = std::filesystem::path(m_pg->directory()) / "client";
        std::filesystem::create_directories(m_tmp);
    }

    std::string write_passfile(const std::string& password, mode_t mode) {
        const std::string path = (m_tmp / ("pgpass-" + std::to_string(++m_files))).string();
        std::ofstream f(path);
        f << "*:*:*:" << k_role << ":" << password << "\n";
        f.close();
        ::chmod(path.c_str(), mode);
        return path;
    }

    std::string role_conninfo() const { return m_pg->conninfo() + " user=" + k_role; }

    std::filesystem::path m_tmp;
    int m_files = 0;
};

TEST_F(PgPassword, WrongPasswordFailsWithoutShowingIt) {
    // In a URL (socket directory as the host parameter) and as a key=value pair.
    const std::string url =
        std::string("postgresql://") + k_role + ":" + k_bad + "@/raregen?host=" + m_pg->directory();
    const std::string kv = role_conninfo() + " password='" + k_bad + "'";
    for (const std::string& ci : {url, kv}) {
        Status error;
        std::optional<Connection> c = Connection::try_connect(ci, error);
        ASSERT_FALSE(c.has_value());
        EXPECT_THAT(error.message(), HasSubstr("password authentication failed"));
        EXPECT_THAT(error.message(), Not(HasSubstr(k_bad)));
        EXPECT_THAT(error.message(), Not(HasSubstr(k_good)));
    }
}

TEST_F(PgPassword, PasswordFileIsUsed) {
    const std::string good = write_passfile(k_good, 0600);
    ConnectOptions options;
    options.passfile = good;
    Connection c = Connection::connect(role_conninfo(), options);
    Result who = c.exec("SELECT current_user");
    ASSERT_TRUE(who.ok()) << who.error();
    EXPECT_EQ(who.text(0, 0), k_role);

    // A wrong password from the file is not shown either.
    options.passfile = write_passfile(k_bad, 0600);
    Status error;
    EXPECT_FALSE(Connection::try_connect(role_conninfo(), error, options).has_value());
    EXPECT_THAT(error.message(), HasSubstr("password authentication failed"));
    EXPECT_THAT(error.message(), Not(HasSubstr(k_bad)));

    // libpq would silently ignore a file others can read: we say so.
    options.passfile = write_passfile(k_good, 0644);
    EXPECT_FALSE(Connection::try_connect(role_conninfo(), error, options).has_value());
    EXPECT_THAT(error.message(), HasSubstr("chmod 600"));
    EXPECT_THAT(error.message(), Not(HasSubstr(k_good)));

    options.passfile = (m_tmp / "missing").string();
    EXPECT_FALSE(Connection::try_connect(role_conninfo(), error, options).has_value());
    EXPECT_THAT(error.message(), HasSubstr("No such file"));
}

// ---- scrub_secrets and friends (no server) ---------------------------------------------

TEST(PgScrub, UrlPasswordRawAndPercentDecoded) {
    const std::string ci = "postgresql://bob:p%40ss%2Fw0rd!@db.example:5432/prod";
    const std::string msg =
        "could not connect: p@ss/w0rd! and p%40ss%2Fw0rd! and postgresql://bob:p%40ss%2Fw0rd!@db";
    const std::string s = scrub_secrets(msg, ci);
    EXPECT_THAT(s, Not(HasSubstr("w0rd")));
    EXPECT_THAT(s, HasSubstr("could not connect"));
    EXPECT_THAT(s, HasSubstr("postgresql://bob:***@db"));
}

TEST(PgScrub, KeyValuePasswordQuotedWithEscapes) {
    const std::string ci = "host=h user=bob password='it\\'s a s3cret' dbname=x";
    EXPECT_EQ(scrub_secrets("said it's a s3cret twice: it's a s3cret", ci), "said *** twice: ***");
    EXPECT_EQ(scrub_secrets("password = 'it\\'s a s3cret' host=h", ""), "password = *** host=h");
}

TEST(PgScrub, PasswordPairsAndUrlsInAnyMessage) {
    const std::string s = scrub_secrets(
        "tried postgres://carol:hunter2@db/x then \"host=db password=hunter3\" and "
        "?user=u&password=hunter4&sslmode=require",
        "");
    EXPECT_THAT(s, Not(HasSubstr("hunter")));
    EXPECT_THAT(s, HasSubstr("postgres://carol:***@db/x"));
    EXPECT_THAT(s, HasSubstr("&sslmode=require"));
}

TEST(PgScrub, ExtraSecretsAndPiecesOfAMisreadUrl) {
    const std::vector<std::string> extra{"from-passfile-77"};
    EXPECT_EQ(scrub_secrets("auth failed for from-passfile-77", "host=h", extra),
              "auth failed for ***");
    // libpq reading "pa" (part of the password) as the port.
    const std::string s = scrub_secrets(
        "invalid integer value \"pa\" for connection option \"port\"", "postgresql://u:pa/ss@h/db");
    EXPECT_EQ(s, "invalid integer value \"***\" for connection option \"port\"");
}

TEST(PgScrub, LeavesMessagesWithoutSecretsAlone) {
    const std::string msg =
        "connection to server on socket \"/tmp/x/.s.PGSQL.5432\" failed: No such file or directory";
    EXPECT_EQ(scrub_secrets(msg, "host=/tmp/x dbname=raregen"), msg);
    EXPECT_EQ(scrub_secrets(msg, "postgresql://u@h/db"), msg);
}

TEST(PgScrub, DescribeTargetShowsWhereButNeverThePassword) {
    EXPECT_EQ(describe_target("postgresql://bob:hunter2@db.example:6543/prod?sslmode=require"),
              "host=db.example port=6543 dbname=prod user=bob");
    EXPECT_EQ(describe_target("host='/tmp/a dir' password=x dbname=raregen"),
              "host='/tmp/a dir' dbname=raregen");
    EXPECT_EQ(describe_target("host=h password='x"), "(unparseable connection string)");
}

TEST(PgScrub, QuoteConninfoValue) {
    EXPECT_EQ(quote_conninfo_value("plain"), "plain");
    EXPECT_EQ(quote_conninfo_value(""), "''");
    EXPECT_EQ(quote_conninfo_value("a b"), "'a b'");
    EXPECT_EQ(quote_conninfo_value("it's\\"), "'it\\'s\\\\'");
}

}  // namespace
}  // namespace raregen::pg
