#pragma once
// Runs the built `raregen` binary as a subprocess and captures what it says.
// The child gets the test's environment minus RAREGEN_WIF (so a developer's
// shell cannot change results), plus whatever a test adds.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace raregen::test {

struct CliResult {
    int exit_code = -1;  // 128 + signal number if the child was killed
    std::string out;
    std::string err;
    // stdout parsed as JSON; fails the calling test (and returns null) if it is not.
    nlohmann::json json() const;
};

struct CliCall {
    std::vector<std::string> args;                         // after the program name
    std::string stdin_data;                                // written to the child's stdin
    std::vector<std::pair<std::string, std::string>> env;  // added to the environment
};

CliResult run_cli(const CliCall& call);
inline CliResult run_cli(std::vector<std::string> args) {
    return run_cli(CliCall{std::move(args), {}, {}});
}

// Starts `raregen args...` in the background with DATABASE_URL set (when
// not empty): stdout to <log_prefix>.out (truncated), stderr appended to
// <log_prefix>.err. For runs a test stops with a signal.
pid_t spawn_cli(const std::vector<std::string>& args, const std::string& database_url,
                const std::string& log_prefix);
// Waits for a child of spawn_cli: its exit code, or 128 + the signal that
// killed it. After `limit` the child is killed, the test fails, and -2 is
// returned.
int wait_cli(pid_t pid, std::chrono::seconds limit = std::chrono::seconds(300));

// A fresh private directory for files a test writes; removed with its contents on destruction.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string path(const std::string& name) const { return m_dir + "/" + name; }

  private:
    std::string m_dir;
};

// Writes `content` to `path` with `mode` (set explicitly, whatever the umask).
void write_file(const std::string& path, const std::string& content, unsigned mode);
std::string read_file(const std::string& path);
unsigned file_mode(const std::string& path);  // permission bits only

// The reference data in tests/data.
nlohmann::json load_test_json(const std::string& name);
// vectors.json's p2pkh_spend_forkid (loaded once).
const nlohmann::json& spend();

}  // namespace raregen::test
