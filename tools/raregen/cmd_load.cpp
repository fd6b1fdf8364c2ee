// `raregen load`: posts a file of signed intents to RareGen's HTTP API
// (`raregen serve`, or the old rare-gen-server) from many keep-alive
// connections (tools/load), one POST /v1/publish per intent as the old
// service's clients do, or --batch N per POST /v1/publish/batch. Answers
// without a verdict (503, other 5xx, no answer) are retried; the API answers
// a retried record with its existing job, so nothing is published twice.
// Prints a JSON summary (answers by kind, refusals by code, 202/s, latency);
// --answers writes one JSON line per intent, in input order.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tools/load/load_client.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"

namespace raregen::cli {

namespace {

struct LoadCliOptions {
    std::string url;
    std::string intents;
    std::string answers;
    std::size_t connections = 64;
    std::size_t batch = 1;
    std::size_t attempts = 30;
    std::uint64_t timeout_ms = 30000;
    bool quiet = false;
};

int run_load_command(const LoadCliOptions& o) {
    std::ifstream in(o.intents);
    if (!in) return usage_error("--intents " + o.intents + ": cannot open it for reading");
    std::vector<std::string> intents;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        intents.push_back(std::move(line));
    }
    if (in.bad()) return internal_error("reading --intents " + o.intents + " failed");
    if (intents.empty())
        return usage_error("--intents " + o.intents + " holds no intent (one JSON object a line)");
    std::ofstream answers;
    if (!o.answers.empty()) {
        answers.open(o.answers, std::ios::trunc);
        if (!answers) return usage_error("--answers " + o.answers + ": cannot create it");
    }

    load::LoadOptions lo;
    lo.url = o.url;
    while (lo.url.size() > 7 && lo.url.back() == '/')
        lo.url.pop_back();
    lo.connections = o.connections;
    lo.batch = o.batch;
    lo.attempts = o.attempts;
    lo.timeout = std::chrono::milliseconds(o.timeout_ms);
    if (!o.quiet)
        lo.progress = [](std::size_t answered, std::size_t total) {
            std::fprintf(stderr, "raregen load: %zu of %zu intents answered\n", answered, total);
        };
    std::string error;
    const load::LoadResult r = load::run_load(intents, lo, error);
    if (!error.empty()) return usage_error(error);

    if (answers.is_open()) {
        for (std::size_t i = 0; i < r.answers.size(); ++i) {
            const load::Answer& a = r.answers[i];
            Json line{{"line", i + 1}, {"status", a.status}};
            if (!a.job_id.empty()) line["jobId"] = a.job_id;
            if (!a.record_id.empty()) line["recordId"] = a.record_id;
            if (!a.code.empty()) line["code"] = a.code;
            if (!a.error.empty()) line["error"] = a.error;
            line["attempts"] = a.attempts;
            answers << line.dump() << '\n';
        }
        if (!answers.flush()) return internal_error("writing --answers " + o.answers + " failed");
    }

    Json summary;
    summary["url"] = lo.url;
    summary["route"] = o.batch == 1 ? "POST /v1/publish" : "POST /v1/publish/batch";
    summary["connections"] = o.connections;
    summary["batch"] = o.batch;
    summary["intents"] = intents.size();
    summary["accepted"] = r.accepted;
    summary["existing"] = r.existing;
    summary["refused"] = r.refused;
    summary["refused_by_code"] = r.refused_by_code;
    summary["unanswered"] = r.unanswered;
    summary["requests"] = r.requests;
    summary["retried_unavailable"] = r.retried_unavailable;
    summary["retried_no_answer"] = r.retried_no_answer;
    summary["seconds"] = r.seconds;
    summary["answered_per_second"] =
        r.seconds > 0 ? static_cast<double>(r.accepted + r.existing) / r.seconds : 0.0;
    summary["latency_ms"] =
        Json{{"p50", r.latency_p50_ms}, {"p99", r.latency_p99_ms}, {"max", r.latency_max_ms}};
    const int printed = print_json(summary);
    if (r.unanswered > 0)
        return internal_error(std::to_string(r.unanswered) + " of " +
                              std::to_string(intents.size()) + " intents got no verdict after " +
                              std::to_string(o.attempts) +
                              " attempts each (is the server up? see --answers for the last "
                              "error of each)");
    return printed;
}

}  // namespace

void register_load_command(CLI::App& app) {
    auto o = std::make_shared<LoadCliOptions>();
    CLI::App* cmd = app.add_subcommand(
        "load",
        "Post a file of signed intents to RareGen's HTTP API (raregen serve, or the old "
        "rare-gen-server) from many keep-alive connections: one POST /v1/publish per intent, as "
        "the old service's clients send them, or --batch N per POST /v1/publish/batch. A 503 "
        "(after its Retry-After), another 5xx or no answer is retried with the same body: the "
        "API answers a record it already has with its job, so nothing is published twice. "
        "Prints a JSON summary: answers by kind, refusals by code, rate and latency.");
    cmd->add_option("--url", o->url, "The API, http://HOST:PORT")->required();
    cmd->add_option("--intents", o->intents, "NDJSON file of signed intents (raregen gen intents)")
        ->required();
    cmd->add_option("--connections,-c", o->connections,
                    "Concurrent keep-alive connections (one request in flight each)")
        ->capture_default_str();
    cmd->add_option("--batch", o->batch,
                    "Intents per request: 1 posts /v1/publish, more post /v1/publish/batch")
        ->capture_default_str();
    cmd->add_option("--attempts", o->attempts,
                    "Tries per intent for answers without a verdict (503, 5xx, no answer)")
        ->capture_default_str();
    cmd->add_option("--timeout-ms", o->timeout_ms, "Per request: connect, send and answer")
        ->capture_default_str();
    cmd->add_option("--answers", o->answers,
                    "Write one JSON line per intent, in input order: line, status, jobId or "
                    "code and error, attempts");
    cmd->add_flag("--quiet,-q", o->quiet, "No progress lines on stderr");
    cmd->footer(
        "Exit 0 when every intent got a verdict (202, 200 or a refusal), 1 when some got none "
        "after every attempt, 2 for bad options.");
    set_action(*cmd, [o] { return run_load_command(*o); });
}

}  // namespace raregen::cli
