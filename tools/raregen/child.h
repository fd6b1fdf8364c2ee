#pragma once
// Running raregen's own subcommands as child processes (`raregen demo`
// drives the others this way, as an operator would type them): the same
// binary (/proc/self/exe), an argument list, extra environment variables
// on top of this process's, stdout optionally to a file, stderr inherited.

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace raregen::cli {

struct ChildSpec {
    std::vector<std::string> args;  // after the program name, e.g. {"gen", "intents", "100"}
    std::vector<std::pair<std::string, std::string>> env;  // set (or replaced) in the child
    std::string stdout_path;                               // empty: inherit
};

// Starts the child; returns its pid, or -1 with `error` set.
pid_t spawn_self(const ChildSpec& spec, std::string& error);
// Waits for it; returns its exit code, or 128 + signal if a signal ended it.
// `cpu_seconds` (if given) receives the CPU time (user + system) it used.
int wait_child(pid_t pid, double* cpu_seconds = nullptr);
// Runs it to the end; returns the exit code (-1 if it could not start).
int run_self(const ChildSpec& spec, std::string& error, double* cpu_seconds = nullptr);

}  // namespace raregen::cli
