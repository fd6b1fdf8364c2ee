#include "storage/pg/embedded.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "storage/pg/connection.h"

namespace raregen::pg {
namespace {

using Clock = std::chrono::steady_clock;

// What a child process is started with. Everything is prepared before fork:
// the child calls only async-signal-safe functions until exec.
struct ChildSpec {
    std::string path;
    std::vector<std::string> args;  // argv, starting with argv[0]
    std::string cwd;
    int out_fd = -1;  // becomes stdout and stderr
    bool change_user = false;
    uid_t uid = 0;
    gid_t gid = 0;
    int parent_death_signal = 0;  // 0: none
    bool new_session = false;
};

// write(2) a message and an errno, then _exit: the child's only way to report.
[[noreturn]] void child_fail(const char* what, int err) {
    char buf[160];
    std::size_t n = 0;
    auto put = [&](const char* s) {
        while (*s != '\0' && n < sizeof(buf) - 1)
            buf[n++] = *s++;
    };
    put("raregen embedded postgres: ");
    put(what);
    put(" failed: ");
    put(strerrorname_np(err) != nullptr ? strerrorname_np(err) : "error");
    put("\n");
    [[maybe_unused]] const ssize_t w = ::write(STDERR_FILENO, buf, n);
    _exit(127);
}

pid_t spawn(const ChildSpec& spec) {
    std::vector<char*> argv;
    for (const std::string& a : spec.args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // A clean environment: nothing of ours (PG* variables, LD_PRELOAD,
    // sanitizer options) leaks into the server. TZ=UTC spares initdb probing
    // the system's time zone.
    static const char* const k_env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", "TZ=UTC",
                                        nullptr};
    const pid_t parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid != 0) return pid;  // parent (or -1)

    // ---- child ----
    if (spec.new_session) ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        ::sigaction(sig, &dfl, nullptr);

    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0 || ::dup2(devnull, STDIN_FILENO) < 0) child_fail("open /dev/null", errno);
    if (::dup2(spec.out_fd, STDOUT_FILENO) < 0 || ::dup2(spec.out_fd, STDERR_FILENO) < 0) {
        _exit(127);
    }
    if (::close_range(3, ~0U, 0) != 0) {
        for (int fd = 3; fd < 65536; ++fd)
            ::close(fd);
    }
    if (spec.change_user) {
        if (::setgroups(0, nullptr) != 0) child_fail("setgroups", errno);
        if (::setgid(spec.gid) != 0) child_fail("setgid", errno);
        if (::setuid(spec.uid) != 0) child_fail("setuid", errno);
    }
    // After setuid: changing credentials clears the parent-death signal.
    if (spec.parent_death_signal != 0) {
        if (::prctl(PR_SET_PDEATHSIG, spec.parent_death_signal) != 0) child_fail("prctl", errno);
        if (::getppid() != parent) _exit(126);  // the parent is already gone
    }
    if (::chdir(spec.cwd.c_str()) != 0) child_fail("chdir to the cluster directory", errno);
    ::umask(077);
    ::execve(spec.path.c_str(), argv.data(), const_cast<char* const*>(k_env));
    child_fail("exec", errno);
}

// Waits until `pid` exits or `deadline` passes; the wait status, or nullopt.
std::optional<int> wait_until(pid_t pid, Clock::time_point deadline) {
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;  // not our child any more: treat as gone
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::string describe_status(int status) {
    if (status == -1) return "could not be waited for";
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
    return "stopped";
}

// The last `max_lines` lines of a log file (from its last 8 KiB).
std::string log_tail(const std::string& path, std::size_t max_lines = 25) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    const std::streamoff from = size > 8192 ? size - 8192 : 0;
    in.seekg(from);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string_view> lines;
    for (std::size_t at = 0; at < text.size();) {
        std::size_t nl = text.find('\n', at);
        if (nl == std::string::npos) nl = text.size();
        lines.emplace_back(text.data() + at, nl - at);
        at = nl + 1;
    }
    if (from > 0 && !lines.empty()) lines.erase(lines.begin());  // cut mid-line
    const std::size_t first = lines.size() > max_lines ? lines.size() - max_lines : 0;
    std::string out;
    for (std::size_t i = first; i < lines.size(); ++i) {
        out.append(lines[i]);
        if (i + 1 < lines.size()) out += '\n';
    }
    return out;
}

struct Account {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
};

std::optional<Account> find_account(const std::string& name) {
    std::array<char, 4096> buf{};
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
        return std::nullopt;
    }
    return Account{name, pw.pw_uid, pw.pw_gid};
}

std::string current_user_name() {
    std::array<char, 4096> buf{};
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
        return pw.pw_name;
    }
    return "uid " + std::to_string(::geteuid());
}

int open_log(const std::string& path, bool change_user, uid_t uid, gid_t gid) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0 && fd <= STDERR_FILENO) {
        // A process started with 0-2 closed: keep the log clear of the
        // descriptors the child rewires.
        const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        ::close(fd);
        fd = moved;
    }
    if (fd >= 0 && change_user && ::fchown(fd, uid, gid) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// A string value in postgresql.conf.
std::string conf_quote(const std::string& v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'') out += '\'';
        out += c;
    }
    return out + "'";
}

}  // namespace

EmbeddedPostgres::EmbeddedPostgres(EmbeddedOptions options) : m_options(std::move(options)) {
    try {
        start();
    } catch (...) {
        stop();
        throw;
    }
}

EmbeddedPostgres::~EmbeddedPostgres() {
    stop();
}

std::string EmbeddedPostgres::conninfo_for(const std::string& database) const {
    return "host=" + quote_conninfo_value(m_dir) + " port=" + std::to_string(m_options.port) +
           " user=" + quote_conninfo_value(m_options.user) +
           " dbname=" + quote_conninfo_value(database);
}

void EmbeddedPostgres::fail(const std::string& what, const std::string& log_path,
                            const std::string& todo) {
    std::string msg = "embedded PostgreSQL: " + what + ". " + todo;
    const std::string tail = log_path.empty() ? std::string() : log_tail(log_path);
    const bool denied = tail.find("EACCES") != std::string::npos ||
                        tail.find("Permission denied") != std::string::npos;
    if (m_change_user && denied) {
        msg += ". (The server runs as user '" + m_server_user +
               "' because PostgreSQL refuses to run as root; every parent directory of " + m_dir +
               " must be searchable by that user: set another base directory, or run_as.)";
    }
    if (!tail.empty()) msg += "\n--- last lines of " + log_path + " ---\n" + tail;
    throw EmbeddedError(msg);
}

void EmbeddedPostgres::start() {
    const std::string& bin = m_options.bin_dir;
    for (const char* tool : {"initdb", "postgres"}) {
        const std::string path = bin + "/" + tool;
        if (::access(path.c_str(), X_OK) != 0) {
            throw EmbeddedError(
                "embedded PostgreSQL: the PostgreSQL 15 server program " + path +
                " is missing or not executable. Install the Debian package postgresql-15 "
                "(apt-get install postgresql-15, or tools/setup/install-deps.sh), point the "
                "embedded cluster's bin_dir at a directory holding initdb and postgres, or set "
                "DATABASE_URL to use an existing server");
        }
    }

    if (::geteuid() == 0) {
        std::optional<Account> account;
        if (!m_options.run_as.empty()) {
            account = find_account(m_options.run_as);
            if (!account) {
                throw EmbeddedError("embedded PostgreSQL: the account '" + m_options.run_as +
                                    "' given to run the server as does not exist; create it "
                                    "(useradd --system " +
                                    m_options.run_as + ") or leave run_as empty");
            }
        } else {
            for (const char* name : {"raregen", "postgres", "nobody"}) {
                if ((account = find_account(name))) break;
            }
            if (!account) {
                throw EmbeddedError(
                    "embedded PostgreSQL: running as root, and none of the accounts raregen, "
                    "postgres, nobody exists to run the server as (PostgreSQL refuses root); "
                    "create one (useradd --system raregen) or run raregen as a normal user");
            }
        }
        if (account->uid == 0) {
            throw EmbeddedError("embedded PostgreSQL: the account '" + account->name +
                                "' has uid 0; PostgreSQL refuses to run as root: choose an "
                                "unprivileged account");
        }
        m_change_user = true;
        m_uid = account->uid;
        m_gid = account->gid;
        m_server_user = account->name;
    } else {
        m_server_user = current_user_name();
    }

    std::string base = m_options.base_dir;
    if (base.empty()) {
        const char* tmp = std::getenv("TMPDIR");
        base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    }
    while (base.size() > 1 && base.back() == '/')
        base.pop_back();
    std::string templ = base + "/raregen-pg-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
        throw EmbeddedError("embedded PostgreSQL: could not create a directory in " + base + ": " +
                            std::strerror(errno) +
                            "; set TMPDIR or the base directory to a "
                            "writable place");
    }
    m_dir = templ;
    m_data = m_dir + "/data";
    m_initdb_log = m_dir + "/initdb.log";
    m_server_log = m_dir + "/server.log";
    m_conninfo = conninfo_for(m_options.database);

    // The socket directory is written into postgresql.conf and a list setting.
    if (m_dir.find_first_of(",'\"\\\n\r\t") != std::string::npos) {
        fail("the directory " + m_dir +
                 " contains a character (, ' \" \\ or a control "
                 "character) PostgreSQL's socket setting cannot take",
             "", "set TMPDIR or the base directory to a plain path");
    }
    const std::string socket_path = m_dir + "/.s.PGSQL." + std::to_string(m_options.port);
    if (socket_path.size() >= 108) {
        fail("the socket path " + socket_path +
                 " is longer than the 107 bytes a Unix socket "
                 "allows",
             "", "set TMPDIR or the base directory to a shorter path such as /tmp");
    }
    if (m_change_user && ::chown(m_dir.c_str(), m_uid, m_gid) != 0) {
        fail(std::string("could not hand ") + m_dir + " to user " + m_server_user + ": " +
                 std::strerror(errno),
             "", "check that this process may chown (it is root)");
    }

    run_initdb();
    write_config();
    start_server();
    create_database();
}

void EmbeddedPostgres::run_initdb() {
    const int log = open_log(m_initdb_log, m_change_user, m_uid, m_gid);
    if (log < 0) {
        fail("could not create " + m_initdb_log + ": " + std::strerror(errno), "",
             "check the base directory");
    }
    ChildSpec spec;
    spec.path = m_options.bin_dir + "/initdb";
    spec.args = {spec.path,
                 "-D",
                 m_data,
                 "-U",
                 m_options.user,
                 "-E",
                 "UTF8",
                 "--no-locale",
                 "--auth-local=trust",
                 "--auth-host=reject",
                 "--no-instructions"};
    if (m_options.for_tests) spec.args.emplace_back("--no-sync");
    spec.cwd = m_dir;
    spec.out_fd = log;
    spec.change_user = m_change_user;
    spec.uid = m_uid;
    spec.gid = m_gid;
    spec.parent_death_signal = SIGKILL;
    const pid_t pid = spawn(spec);
    const int fork_errno = errno;
    ::close(log);
    if (pid < 0) {
        fail(std::string("could not start initdb: fork: ") + std::strerror(fork_errno), "",
             "check the process and memory limits");
    }
    const std::optional<int> status = wait_until(pid, Clock::now() + m_options.timeout);
    if (!status) {
        ::kill(pid, SIGKILL);
        wait_until(pid, Clock::now() + std::chrono::seconds(10));
        fail("initdb did not finish within " + std::to_string(m_options.timeout.count()) + " s",
             m_initdb_log, "check the disk and the log below");
    }
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
        fail("initdb " + describe_status(*status), m_initdb_log, "see initdb's messages below");
    }
}

void EmbeddedPostgres::write_config() {
    const std::string path = m_data + "/postgresql.conf";
    std::ofstream conf(path, std::ios::app);
    const std::string shared_buffers = !m_options.shared_buffers.empty() ? m_options.shared_buffers
                                       : m_options.for_tests             ? "16MB"
                                                                         : "128MB";
    conf << "\n# raregen embedded cluster (later settings win over initdb's above)\n"
         << "listen_addresses = ''\n"
         << "port = " << m_options.port << "\n"
         << "unix_socket_directories = " << conf_quote(m_dir) << "\n"
         << "unix_socket_permissions = 0700\n"
         << "max_connections = " << m_options.max_connections << "\n"
         << "shared_buffers = " << conf_quote(shared_buffers) << "\n"
         << "timezone = 'UTC'\n"
         << "log_timezone = 'UTC'\n";
    if (m_options.for_tests) {
        conf << "# for tests only: a machine crash can corrupt this cluster\n"
             << "fsync = off\n"
             << "synchronous_commit = off\n"
             << "full_page_writes = off\n";
    }
    conf.flush();
    if (!conf) {
        fail("could not append the settings to " + path, "", "check the disk");
    }
}

void EmbeddedPostgres::start_server() {
    const int log = open_log(m_server_log, m_change_user, m_uid, m_gid);
    if (log < 0) {
        fail("could not create " + m_server_log + ": " + std::strerror(errno), "",
             "check the base directory");
    }
    ChildSpec spec;
    spec.path = m_options.bin_dir + "/postgres";
    spec.args = {spec.path, "-D", m_data};
    spec.cwd = m_dir;
    spec.out_fd = log;
    spec.change_user = m_change_user;
    spec.uid = m_uid;
    spec.gid = m_gid;
    spec.parent_death_signal = SIGINT;  // fast shutdown if we die
    spec.new_session = true;
    const pid_t pid = spawn(spec);
    const int fork_errno = errno;
    ::close(log);
    if (pid < 0) {
        fail(std::string("could not start postgres: fork: ") + std::strerror(fork_errno), "",
             "check the process and memory limits");
    }
    m_pid = pid;

    const std::string ping = conninfo_for("postgres");
    const Clock::time_point deadline = Clock::now() + m_options.timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(m_pid, &status, WNOHANG);
        if (r == m_pid) {
            m_pid = 0;
            fail("the server " + describe_status(status) + " while starting", m_server_log,
                 "see the server's messages below");
        }
        const PGPing p = PQping(ping.c_str());
        if (p == PQPING_OK) return;
        if (p == PQPING_NO_ATTEMPT) {
            fail("could not build a connection to the new server", m_server_log,
                 "report this as a bug");
        }
        if (Clock::now() >= deadline) {
            fail("the server did not accept connections within " +
                     std::to_string(m_options.timeout.count()) + " s",
                 m_server_log, "see the server's messages below");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void EmbeddedPostgres::create_database() {
    if (m_options.database == "postgres") return;
    Status error;
    std::optional<Connection> c = Connection::try_connect(conninfo_for("postgres"), error);
    if (!c) fail(error.message(), m_server_log, "see the server's messages below");
    Result r = c->exec("CREATE DATABASE " + c->quote_identifier(m_options.database));
    if (!r.ok()) {
        fail("could not create database " + m_options.database + ": " + r.error(), m_server_log,
             "choose another database name");
    }
}

void EmbeddedPostgres::restart_server() {
    if (m_pid > 0 || m_cleaned) return;
    start_server();
}

void EmbeddedPostgres::stop() noexcept {
    stop_server();
    if (!m_cleaned && !m_dir.empty() && !m_options.keep) {
        std::error_code ec;
        std::filesystem::remove_all(m_dir, ec);
    }
    m_cleaned = true;
}

void EmbeddedPostgres::stop_server() noexcept {
    if (m_pid > 0) {
        // SIGINT: fast shutdown (roll back open transactions, checkpoint).
        ::kill(m_pid, SIGINT);
        std::optional<int> st = wait_until(m_pid, Clock::now() + m_options.timeout);
        if (!st) {
            // SIGQUIT: immediate shutdown (crash-safe, recovers from WAL on restart).
            ::kill(m_pid, SIGQUIT);
            st = wait_until(m_pid, Clock::now() + std::chrono::seconds(10));
        }
        if (!st) {
            ::kill(m_pid, SIGKILL);
            wait_until(m_pid, Clock::now() + std::chrono::seconds(10));
        }
        m_pid = 0;
    }
}

}  // namespace raregen::pg
