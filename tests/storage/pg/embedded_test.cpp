#include "storage/pg/embedded.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "storage/pg/connection.h"
#include "tests/storage/pg/pg_test_env.h"

namespace raregen::pg {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::PgTest;

// The real uid of a process, from /proc; -1 if it has gone.
long process_uid(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string key;
    while (status >> key) {
        if (key == "Uid:") {
            long uid = -1;
            status >> uid;
            return uid;
        }
        std::string rest;
        std::getline(status, rest);
    }
    return -1;
}

// True while `pid` exists and is not a zombie.
bool process_alive(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return false;
    std::string line;
    std::getline(stat, line);
    const std::size_t close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

// A fresh empty directory under /tmp for a test's own cluster, removed when
// the test ends (also when it fails). Searchable by everyone (0711 by
// default): as root, the server's account must reach into it.
struct ScratchDir {
    explicit ScratchDir(const std::string& tag, mode_t mode = 0711) {
        std::string templ = "/tmp/raregen-pgtest-" + tag + "-XXXXXX";
        if (::mkdtemp(templ.data()) != nullptr && ::chmod(templ.c_str(), mode) == 0) path = templ;
    }
    ~ScratchDir() {
        std::error_code ec;
        if (!path.empty()) fs::remove_all(path, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    std::string path;
};

class PgEmbedded : public PgTest {};

TEST_F(PgEmbedded, ListensOnItsUnixSocketOnly) {
    Connection c = connect(m_pg->conninfo());
    Result r = c.exec(
        "SELECT current_setting('listen_addresses'), current_setting('unix_socket_directories'), "
        "current_setting('server_version_num')::int / 10000, current_user, current_database(), "
        "current_setting('fsync'), current_setting('TimeZone'), "
        "current_setting('server_encoding'), "
        "current_setting('unix_socket_permissions')");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.text(0, 0), "");
    EXPECT_EQ(r.text(0, 1), m_pg->directory());
    EXPECT_EQ(r.int64(0, 2), 15);
    EXPECT_EQ(r.text(0, 3), "raregen");
    EXPECT_EQ(r.text(0, 4), "raregen");
    EXPECT_EQ(r.text(0, 5), "off");  // the shared cluster is built for_tests
    EXPECT_EQ(r.text(0, 6), "UTC");
    EXPECT_EQ(r.text(0, 7), "UTF8");
    EXPECT_EQ(r.text(0, 8), "0700");
    EXPECT_TRUE(fs::exists(m_pg->directory() + "/.s.PGSQL.5432"));
    EXPECT_EQ(m_pg->conninfo(),
              "host=" + m_pg->directory() + " port=5432 user=raregen dbname=raregen");

    // TCP is refused by pg_hba.conf as well (defence in depth: nothing listens).
    Result hba = c.exec("SELECT type, auth_method FROM pg_hba_file_rules ORDER BY line_number");
    ASSERT_TRUE(hba.ok()) << hba.error();
    ASSERT_GT(hba.rows(), 0);
    for (int i = 0; i < hba.rows(); ++i) {
        if (hba.text(i, 0) != "local") {
            EXPECT_EQ(hba.text(i, 1), "reject") << "row " << i;
        }
    }
}

TEST_F(PgEmbedded, ServerRunsAsAnUnprivilegedAccount) {
    const long uid = process_uid(m_pg->server_pid());
    ASSERT_GE(uid, 0) << "no process " << m_pg->server_pid();
    struct stat dir {};
    ASSERT_EQ(::stat(m_pg->directory().c_str(), &dir), 0);
    EXPECT_EQ(dir.st_mode & 0777, 0700u);
    EXPECT_EQ(static_cast<long>(dir.st_uid), uid);
    if (::geteuid() == 0) {
        EXPECT_NE(uid, 0) << "PostgreSQL must not run as root";
        EXPECT_NE(m_pg->server_user(), "root");
    } else {
        EXPECT_EQ(uid, static_cast<long>(::geteuid()));
    }
}

TEST(PgEmbeddedLifecycle, StopsTheServerAndRemovesItsDirectory) {
    const ScratchDir scratch("clean");
    ASSERT_FALSE(scratch.path.empty());
    const std::string& base = scratch.path;
    EmbeddedOptions options;
    options.for_tests = true;
    options.base_dir = base;
    auto pg = std::make_unique<EmbeddedPostgres>(options);
    const std::string dir = pg->directory();
    const std::string conninfo = pg->conninfo();
    const pid_t pid = pg->server_pid();
    EXPECT_EQ(dir.rfind(base + "/raregen-pg-", 0), 0u) << dir;
    {
        Connection c = Connection::connect(conninfo);
        EXPECT_TRUE(c.exec("CREATE TABLE t (x int)").ok());
    }
    EXPECT_TRUE(process_alive(pid));
    pg.reset();
    EXPECT_FALSE(fs::exists(dir));
    EXPECT_FALSE(process_alive(pid));
    EXPECT_EQ(PQping(conninfo.c_str()), PQPING_NO_RESPONSE);
    EXPECT_TRUE(fs::is_empty(base));
}

TEST(PgEmbeddedLifecycle, KeepLeavesACleanlyStoppedClusterBehind) {
    const ScratchDir scratch("keep");
    ASSERT_FALSE(scratch.path.empty());
    const std::string& base = scratch.path;
    EmbeddedOptions options;
    options.for_tests = true;
    options.keep = true;
    options.base_dir = base;
    options.database = "kept";
    std::string dir;
    pid_t pid = 0;
    {
        EmbeddedPostgres pg(options);
        dir = pg.directory();
        pid = pg.server_pid();
        Connection c = Connection::connect(pg.conninfo());
        Result r = c.exec("SELECT current_database()");
        ASSERT_TRUE(r.ok()) << r.error();
        EXPECT_EQ(r.text(0, 0), "kept");
        pg.stop();
        pg.stop();  // idempotent
        EXPECT_EQ(pg.server_pid(), 0);
    }
    EXPECT_FALSE(process_alive(pid));
    EXPECT_TRUE(fs::exists(dir + "/data/PG_VERSION"));
    EXPECT_TRUE(fs::exists(dir + "/server.log"));
    // A fast shutdown removes postmaster.pid; a crash would leave it.
    EXPECT_FALSE(fs::exists(dir + "/data/postmaster.pid"));
    std::ifstream conf(dir + "/data/postgresql.conf");
    const std::string text((std::istreambuf_iterator<char>(conf)),
                           std::istreambuf_iterator<char>());
    EXPECT_THAT(text, HasSubstr("listen_addresses = ''"));
}

TEST(PgEmbeddedLifecycle, ServerStopsWhenItsOwnerDies) {
    // A child process starts a cluster, reports it, and is killed (no
    // destructor runs): the kernel must stop the server (PR_SET_PDEATHSIG).
    const ScratchDir scratch("orphan");
    ASSERT_FALSE(scratch.path.empty());
    const std::string& base = scratch.path;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        std::string report;
        try {
            EmbeddedOptions options;
            options.for_tests = true;
            options.base_dir = base;
            auto* pg = new EmbeddedPostgres(options);  // never destroyed
            report = std::to_string(pg->server_pid()) + " " + pg->directory() + "\n";
        } catch (const std::exception& e) {
            report = std::string("ERR ") + e.what() + "\n";
        }
        [[maybe_unused]] const ssize_t w = ::write(fds[1], report.data(), report.size());
        ::raise(SIGKILL);
    }
    ::close(fds[1]);
    std::string report;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
        report.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));
    ASSERT_EQ(report.rfind("ERR", 0), std::string::npos) << report;
    const pid_t server = static_cast<pid_t>(std::atol(report.c_str()));
    ASSERT_GT(server, 0) << report;
    // Bounded only so a broken build cannot hang the suite.
    bool stopped = false;
    for (int i = 0; i < 6000 && !stopped; ++i) {
        stopped = !process_alive(server);
        if (!stopped) ::usleep(10'000);
    }
    EXPECT_TRUE(stopped) << "the orphaned server (pid " << server << ") kept running";
    if (!stopped) ::kill(server, SIGKILL);
}

TEST(PgEmbeddedErrors, MissingBinariesNameTheDebianPackage) {
    const ScratchDir scratch("nobin");
    ASSERT_FALSE(scratch.path.empty());
    const std::string& base = scratch.path;
    EmbeddedOptions options;
    options.bin_dir = "/nonexistent/postgresql/15/bin";
    options.base_dir = base;
    try {
        EmbeddedPostgres pg(options);
        ADD_FAILURE() << "started without binaries";
    } catch (const EmbeddedError& e) {
        EXPECT_THAT(std::string(e.what()), HasSubstr("postgresql-15"));
        EXPECT_THAT(std::string(e.what()), HasSubstr("/nonexistent/postgresql/15/bin/initdb"));
        EXPECT_THAT(std::string(e.what()), HasSubstr("DATABASE_URL"));
    }
    EXPECT_TRUE(fs::is_empty(base));
}

TEST(PgEmbeddedErrors, UnusableBaseDirectoryIsReported) {
    EmbeddedOptions options;
    options.base_dir = "/nonexistent/raregen-base";
    try {
        EmbeddedPostgres pg(options);
        ADD_FAILURE() << "started in a directory that does not exist";
    } catch (const EmbeddedError& e) {
        EXPECT_THAT(std::string(e.what()), HasSubstr("/nonexistent/raregen-base"));
        EXPECT_THAT(std::string(e.what()), HasSubstr("TMPDIR"));
    }
    const ScratchDir scratch("long");
    ASSERT_FALSE(scratch.path.empty());
    const std::string& base = scratch.path;
    options.base_dir = base + "/" + std::string(100, 'x');
    fs::create_directories(options.base_dir);
    try {
        EmbeddedPostgres pg(options);
        ADD_FAILURE() << "accepted a socket path longer than a Unix socket allows";
    } catch (const EmbeddedError& e) {
        EXPECT_THAT(std::string(e.what()), HasSubstr("107 bytes"));
    }
    EXPECT_TRUE(fs::is_empty(options.base_dir));  // nothing left behind
}

TEST(PgEmbeddedErrors, BaseDirectoryTheServerAccountCannotReach) {
    // As root the server runs as another account, which cannot enter a 0700
    // directory of root's: the error must say so. As a normal user the same
    // directory is the user's own and the cluster starts.
    const ScratchDir scratch("private", 0700);
    ASSERT_FALSE(scratch.path.empty());
    const std::string& base = scratch.path;
    EmbeddedOptions options;
    options.for_tests = true;
    options.base_dir = base;
    if (::geteuid() == 0) {
        try {
            EmbeddedPostgres pg(options);
            ADD_FAILURE() << "the server's account reached into a 0700 directory of root's";
        } catch (const EmbeddedError& e) {
            EXPECT_THAT(std::string(e.what()), HasSubstr("PostgreSQL refuses to run as root"));
            EXPECT_THAT(std::string(e.what()), HasSubstr("must be searchable by that user"));
            EXPECT_THAT(std::string(e.what()), HasSubstr("EACCES"));
        }
    } else {
        EmbeddedPostgres pg(options);
        EXPECT_EQ(PQping(pg.conninfo().c_str()), PQPING_OK);
    }
    EXPECT_TRUE(fs::is_empty(base));
}

TEST(PgEmbeddedErrors, InitdbFailureShowsItsLogAndCleansUp) {
    // An initdb that fails: a superuser name PostgreSQL refuses.
    const ScratchDir scratch("badinit");
    ASSERT_FALSE(scratch.path.empty());
    const std::string& base = scratch.path;
    EmbeddedOptions options;
    options.for_tests = true;
    options.base_dir = base;
    options.user = "pg_reserved";  // roles starting with pg_ are reserved
    try {
        EmbeddedPostgres pg(options);
        ADD_FAILURE() << "initdb accepted a reserved role name";
    } catch (const EmbeddedError& e) {
        EXPECT_THAT(std::string(e.what()), HasSubstr("initdb exited with status"));
        EXPECT_THAT(std::string(e.what()), HasSubstr("pg_reserved"));  // from initdb's log
    }
    EXPECT_TRUE(fs::is_empty(base));
}

}  // namespace
}  // namespace raregen::pg
