#include "tests/tools/raregen/cli_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace raregen::test {

namespace {

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

nlohmann::json CliResult::json() const {
    auto j = nlohmann::json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "stdout is not JSON:\n" << out << "\nstderr:\n" << err;
    if (j.is_discarded()) return nullptr;
    EXPECT_TRUE(j.is_object()) << out;
    return j;
}

CliResult run_cli(const CliCall& call) {
    // Everything the child needs is built before fork(): after it, only
    // async-signal-safe calls.
    std::vector<std::string> arg_store{RAREGEN_CLI_PATH};
    arg_store.insert(arg_store.end(), call.args.begin(), call.args.end());
    std::vector<std::string> env_store;
    for (char** e = environ; *e != nullptr; ++e)
        if (std::strncmp(*e, "RAREGEN_WIF=", 12) != 0) env_store.emplace_back(*e);
    for (const auto& [k, v] : call.env)
        env_store.push_back(k + "=" + v);
    std::vector<char*> argv;
    for (auto& a : arg_store)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : env_store)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    // The child may exit without reading all of stdin.
    ::signal(SIGPIPE, SIG_IGN);
    int in[2], out[2], err[2];
    check(
        ::pipe2(in, O_CLOEXEC) == 0 && ::pipe2(out, O_CLOEXEC) == 0 && ::pipe2(err, O_CLOEXEC) == 0,
        "pipe");
    const pid_t pid = ::fork();
    check(pid >= 0, "fork");
    if (pid == 0) {
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    ::fcntl(in[1], F_SETFL, O_NONBLOCK);

    CliResult res;
    std::size_t written = 0;
    int stdin_fd = in[1];
    if (call.stdin_data.empty()) {
        ::close(stdin_fd);
        stdin_fd = -1;
    }
    int open_outputs = 2;
    char buf[65536];
    while (open_outputs > 0 || stdin_fd >= 0) {
        pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {stdin_fd, POLLOUT, 0}};
        const int n = ::poll(fds, stdin_fd >= 0 ? 3 : 2, -1);
        if (n < 0 && errno == EINTR) continue;
        check(n >= 0, "poll");
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
            if (got > 0) {
                (i == 0 ? res.out : res.err).append(buf, static_cast<std::size_t>(got));
            } else if (got == 0 || errno != EINTR) {
                ::close(fds[i].fd);
                (i == 0 ? out[0] : err[0]) = -1;
                --open_outputs;
            }
        }
        if (stdin_fd >= 0 && fds[2].revents != 0) {
            const ssize_t put = ::write(stdin_fd, call.stdin_data.data() + written,
                                        call.stdin_data.size() - written);
            if (put > 0) written += static_cast<std::size_t>(put);
            if ((put < 0 && errno != EAGAIN && errno != EINTR) ||
                written == call.stdin_data.size()) {
                ::close(stdin_fd);
                stdin_fd = -1;
            }
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        check(errno == EINTR, "waitpid");
    res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return res;
}

TempDir::TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "raregen_cli_test.XXXXXX").string();
    check(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    m_dir = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_dir, ec);
}

void write_file(const std::string& path, const std::string& content, unsigned mode) {
    {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f << content;
        if (!f) throw std::runtime_error("cannot write " + path);
    }
    check(::chmod(path.c_str(), static_cast<mode_t>(mode)) == 0, "chmod");
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

unsigned file_mode(const std::string& path) {
    struct stat st {};
    check(::stat(path.c_str(), &st) == 0, "stat");
    return static_cast<unsigned>(st.st_mode & 07777);
}

const nlohmann::json& spend() {
    static const nlohmann::json v = load_test_json("vectors.json")["p2pkh_spend_forkid"];
    return v;
}

nlohmann::json load_test_json(const std::string& name) {
    const std::string path = std::string(RAREGEN_TESTDATA_DIR) + "/" + name;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open test data " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return nlohmann::json::parse(ss.str());
}

pid_t spawn_cli(const std::vector<std::string>& args, const std::string& database_url,
                const std::string& log_prefix) {
    // Everything the child needs is built before fork().
    static std::string prog = RAREGEN_CLI_PATH;
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    argv.push_back(prog.data());
    for (std::string& a : copy)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string out_path = log_prefix + ".out";
    const std::string err_path = log_prefix + ".err";
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (!database_url.empty()) ::setenv("DATABASE_URL", database_url.c_str(), 1);
    ::unsetenv("RAREGEN_WIF");
    ::execv(prog.c_str(), argv.data());
    ::_exit(127);
}

int wait_cli(pid_t pid, std::chrono::seconds limit) {
    int status = 0;
    const auto give_up = std::chrono::steady_clock::now() + limit;
    pid_t done = 0;
    while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (done == 0) {
        // A hung child fails the test instead of hanging it (and CI).
        ADD_FAILURE() << "raregen (pid " << pid << ") did not exit within " << limit.count()
                      << " s: killed";
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return -2;
    }
    if (done < 0) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace raregen::test
