#include "tools/raregen/child.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace raregen::cli {

pid_t spawn_self(const ChildSpec& spec, std::string& error) {
    std::vector<std::string> env_storage;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        bool replaced = false;
        for (const auto& [name, value] : spec.env)
            if (entry.size() > name.size() && entry.substr(0, name.size()) == name &&
                entry[name.size()] == '=')
                replaced = true;
        if (!replaced) env_storage.emplace_back(entry);
    }
    for (const auto& [name, value] : spec.env)
        env_storage.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (std::string& s : env_storage)
        envp.push_back(s.data());
    envp.push_back(nullptr);

    std::string self = "/proc/self/exe";
    std::vector<std::string> args_storage;
    args_storage.push_back("raregen");
    args_storage.insert(args_storage.end(), spec.args.begin(), spec.args.end());
    std::vector<char*> argv;
    for (std::string& s : args_storage)
        argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (!spec.stdout_path.empty())
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, spec.stdout_path.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        error = std::string("could not start raregen ") +
                (spec.args.empty() ? std::string() : spec.args[0]) + ": " + std::strerror(rc);
        return -1;
    }
    return pid;
}

int wait_child(pid_t pid, double* cpu_seconds) {
    int status = 0;
    rusage usage{};
    while (::wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) return -1;
    }
    if (cpu_seconds != nullptr) {
        auto seconds = [](const timeval& t) {
            return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
        };
        *cpu_seconds = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

int run_self(const ChildSpec& spec, std::string& error, double* cpu_seconds) {
    const pid_t pid = spawn_self(spec, error);
    if (pid < 0) return -1;
    return wait_child(pid, cpu_seconds);
}

}  // namespace raregen::cli
