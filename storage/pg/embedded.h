#pragma once
// EmbeddedPostgres: a private PostgreSQL 15 cluster for an engine started
// without DATABASE_URL, and for tests.
//
// What it does, in order (the constructor; throws EmbeddedError on failure,
// with the reason, the tail of the server's log and what to do):
//   1. finds Debian's server binaries (initdb, postgres) in
//      options.bin_dir, by default /usr/lib/postgresql/15/bin (package
//      postgresql-15);
//   2. makes a fresh directory <base_dir>/raregen-pg-XXXXXX, mode 0700, and
//      runs `initdb` into <dir>/data: UTF8, C locale, superuser
//      options.user, trust authentication on the Unix socket and `reject`
//      for TCP (the server does not listen on TCP anyway);
//   3. writes its settings into <dir>/data/postgresql.conf (so a kept
//      cluster restarts the same way with `pg_ctl -D <dir>/data start`):
//      listen_addresses = '' (Unix socket only), the socket in <dir>
//      (permissions 0700), timezone UTC, small memory settings;
//   4. starts `postgres` and waits until it accepts connections (PQping, as
//      pg_isready does), then creates options.database.
// The destructor stops the server with a fast shutdown (SIGINT, what
// `pg_ctl stop -m fast` sends: open transactions are rolled back, a
// checkpoint is written) and removes the directory unless options.keep.
//
// Access control: trust authentication is safe only because the socket lives
// in a 0700 directory: only the account running the server (and root) can
// reach it.
//
// Why not `pg_ctl start`: pg_ctl detaches the server, so an engine (or a test
// binary) that crashes or is killed leaves it running forever. Here the
// postmaster is this process's own child, in its own session (a terminal's
// Ctrl-C does not stop it before the engine has drained its writes), and it
// gets SIGINT from the kernel if the thread that started it dies
// (PR_SET_PDEATHSIG). So construct an EmbeddedPostgres on a thread that
// outlives it, normally the main thread. Do not set SIGCHLD to SIG_IGN (the
// server must be reaped with waitpid). If the process is killed, the
// directory stays behind (the server still stops).
//
// Root: PostgreSQL refuses to run as root. When the effective uid is 0,
// initdb and postgres run as an unprivileged account: options.run_as if set,
// else the first of `raregen`, `postgres` (created by the postgresql-15
// package), `nobody` that exists. This process forks and drops to that
// account itself (setgroups/setgid/setuid before exec), with no dependency on
// su, runuser or setpriv and no PAM session. The directory is chowned to the
// account; every parent of base_dir must be searchable by it (true for /tmp).
// Root still connects (it can reach a 0700 socket directory).
//
// Durability: the production default keeps fsync on. options.for_tests turns
// off fsync, synchronous_commit and full_page_writes and runs initdb with
// --no-sync: a crash of the machine can then corrupt the cluster, which a
// test does not care about and which saves most of the start-up time.
//
// Threads: construct and destroy on the same long-lived thread; the accessors
// are const and may be read from any thread. Everything here blocks (initdb
// takes about a second) and allocates: start-up code only.

#include <sys/types.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace raregen::pg {

class EmbeddedError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct EmbeddedOptions {
    // Where initdb and postgres are (Debian: package postgresql-15).
    std::string bin_dir = "/usr/lib/postgresql/15/bin";
    // Parent of the cluster's directory; empty: $TMPDIR, else /tmp. The
    // socket path (<dir>/.s.PGSQL.<port>) must fit in 107 bytes.
    std::string base_dir;
    // Database created after start, and the superuser initdb creates.
    std::string database = "raregen";
    std::string user = "raregen";
    // Account to run the server as when this process is root (see above).
    std::string run_as;
    // Only names the socket file when listening on a socket alone; any value works.
    int port = 5432;
    bool for_tests = false;  // fsync off etc. (see above); never for real data
    bool keep = false;       // leave the directory (data and logs) behind on destruction
    // postgresql.conf values; empty: 128MB (16MB for tests).
    std::string shared_buffers;
    int max_connections = 50;
    // How long initdb, the start and the stop may each take.
    std::chrono::seconds timeout{60};
};

class EmbeddedPostgres {
  public:
    explicit EmbeddedPostgres(EmbeddedOptions options = {});
    ~EmbeddedPostgres();
    EmbeddedPostgres(const EmbeddedPostgres&) = delete;
    EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

    // Connection string for options.database, e.g.
    // "host=/tmp/raregen-pg-Ab12Cd port=5432 user=raregen dbname=raregen".
    // It holds no secret.
    const std::string& conninfo() const { return m_conninfo; }
    // The same for another database of this cluster.
    std::string conninfo_for(const std::string& database) const;

    const std::string& directory() const { return m_dir; }        // also the socket directory
    const std::string& data_directory() const { return m_data; }  // PGDATA
    const std::string& server_log() const { return m_server_log; }
    // The postmaster's pid; 0 once stopped.
    pid_t server_pid() const { return m_pid; }
    // The account the server runs as.
    const std::string& server_user() const { return m_server_user; }

    // Stops the server now (fast shutdown) and removes the directory unless
    // options.keep. Idempotent; the destructor calls it. Throws nothing.
    void stop() noexcept;

    // For tests of a database that goes away and comes back: stops the
    // server (fast shutdown; clients see their connections drop) and keeps
    // the cluster; restart_server() starts it again on the same data and
    // socket, waiting until it accepts connections (throws EmbeddedError).
    void stop_server() noexcept;
    void restart_server();

  private:
    void start();
    void run_initdb();
    void write_config();
    void start_server();
    void create_database();
    [[noreturn]] void fail(const std::string& what, const std::string& log_path,
                           const std::string& todo);

    EmbeddedOptions m_options;
    std::string m_dir;
    std::string m_data;
    std::string m_server_log;
    std::string m_initdb_log;
    std::string m_conninfo;
    std::string m_server_user;
    bool m_change_user = false;
    uid_t m_uid = 0;
    gid_t m_gid = 0;
    pid_t m_pid = 0;
    bool m_cleaned = false;
};

// Where the Debian package keeps PostgreSQL 15's server binaries.
inline constexpr const char* k_debian_pg15_bin = "/usr/lib/postgresql/15/bin";

}  // namespace raregen::pg
