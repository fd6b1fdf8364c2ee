// `raregen demo`: the whole job end to end, as an operator would run it,
// on a machine with nothing configured:
//   a database      DATABASE_URL, else a private PostgreSQL for the demo
//   a network       ARC_URL (+ ARC_API_KEY), else `raregen network serve`
//                   (the local ARC-compatible network) as a child process
//   a funded key    a new key, funded on the local network (/admin/fund), or
//                   --key-file + --from with a real ARC
//   publish UTXOs   `raregen utxos split` into 100-satoshi outputs, each
//                   split accepted by the network before its outputs are used
//   intents         `raregen gen intents N` (signed by registered keys)
//   the service     `raregen serve --arc-url ...`: RareGen's HTTP API in
//                   front of the pipeline (ingest, sequence, sign, gate,
//                   send to ARC, durable in the database), fed by
//                   `raregen load`: every intent POSTed from many
//                   keep-alive connections, one POST /v1/publish each as the
//                   old service's clients send them (--batch N: the batch
//                   route); then SIGTERM, and the service drains and exits
//                   (--via file: `raregen run` over the intents file instead)
// then a report on stdout: throughput, intake-to-sent latency p50/p99, the
// API's answers and their latency, per-stage counters, and the proof that
// every job's transaction was accepted by the network exactly once (the database's jobs against the
// network's accepted set, and every 202 a published job).
//
// Each step is one of raregen's own commands, run as a child process with
// the arguments printed, so the demo doubles as a worked example.

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/keys.h"
#include "engine/chain/publication.h"
#include "engine/chain/tx.h"
#include "service/http/arc_calls.h"
#include "storage/jobs/audit.h"
#include "storage/pg/connection.h"
#include "storage/pg/embedded.h"
#include "tools/raregen/child.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"

namespace raregen::cli {

using http::arc_api_key_from_env;
using http::arc_call;
using http::http_ok;
using http::http_problem;
using http::HttpResponse;

namespace {

struct DemoOptions {
    std::size_t intents = 10000;
    std::size_t signers = 8;
    double invalid_share = 0.0;
    std::string work_dir;
    std::string key_file;  // with a real ARC: the funded key
    std::string from;      // with a real ARC: its funding output TXID:VOUT:SATS
    bool gate = false;
    std::string via = "http";      // http: `raregen serve` + `raregen load`; file: `raregen run`
    std::size_t connections = 64;  // with --via http: concurrent connections of the load client
    std::size_t batch = 1;         // with --via http: intents per request (1: POST /v1/publish)
    std::vector<std::string> network_args;  // extra flags for `raregen network serve`
    std::vector<std::string> run_args;      // extra flags for `raregen run` / `raregen serve`
};

std::string join(const std::vector<std::string>& args) {
    std::string s;
    for (const std::string& a : args) {
        if (!s.empty()) s.push_back(' ');
        s += a;
    }
    return s;
}

void say(const std::string& line) {
    std::fprintf(stderr, "raregen demo: %s\n", line.c_str());
}

// Runs `raregen <args>`, printing the command first.
int step(const std::vector<std::string>& args, const std::string& stdout_path,
         const std::vector<std::pair<std::string, std::string>>& env, std::string& error,
         double* cpu_seconds = nullptr) {
    say("$ raregen " + join(args) + (stdout_path.empty() ? "" : " > " + stdout_path));
    ChildSpec spec{args, env, stdout_path};
    const int rc = run_self(spec, error, cpu_seconds);
    if (rc != 0 && error.empty())
        error = "`raregen " + args[0] + (args.size() > 1 ? " " + args[1] : "") +
                "` failed with exit code " + std::to_string(rc) + " (its message is above)";
    return rc;
}

std::optional<Json> read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    try {
        return Json::parse(in);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// CPU seconds used by a process and its children that have exited (for the
// private PostgreSQL: the postmaster plus the backends of the run's
// connections, which are gone by then), from /proc/PID/stat.
std::optional<double> process_tree_cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string s; fields >> s;)
        f.push_back(s);
    // After the command: state is field 3; utime..cstime are fields 14..17.
    if (f.size() < 15) return std::nullopt;
    double ticks = 0;
    for (int i = 11; i <= 14; ++i)
        ticks += std::stod(f[static_cast<std::size_t>(i)]);
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A server started for the demo (the local network, `raregen serve`);
// stopped (SIGTERM, then waited for) when this goes out of scope.
struct Background {
    pid_t pid = -1;
    std::string url;
    // Stops it; returns the CPU seconds it used (0 if it was not running)
    // and sets `exit_code` (if given) to how it ended.
    double stop(int* exit_code = nullptr) {
        double cpu = 0;
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            const int rc = wait_child(pid, &cpu);
            if (exit_code != nullptr) *exit_code = rc;
            pid = -1;
        }
        return cpu;
    }
    ~Background() { stop(); }
};

// Waits (up to 30 s) for a server child started with --port-file to write
// its port; sets `url` to http://127.0.0.1:PORT. An empty result: it
// listens; else why not (it exited, or it took too long).
std::string await_port(Background& child, const std::string& port_file, const std::string& what) {
    for (int i = 0; i < 300; ++i) {
        std::ifstream in(port_file);
        unsigned port = 0;
        if (in >> port && port != 0) {
            child.url = "http://127.0.0.1:" + std::to_string(port);
            return {};
        }
        int status = 0;
        if (::waitpid(child.pid, &status, WNOHANG) == child.pid) {
            child.pid = -1;
            return "`raregen " + what + "` exited (" +
                   std::to_string(WIFEXITED(status) ? WEXITSTATUS(status)
                                                    : 128 + WTERMSIG(status)) +
                   ") before it listened: its message is above";
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "`raregen " + what + "` did not start listening within 30 s (see above)";
}

int run_demo(const DemoOptions& o) {
    if (o.intents == 0) return usage_error("--intents must be at least 1");
    if (o.invalid_share < 0 || o.invalid_share >= 1)
        return usage_error("--invalid-share must be in [0, 1)");
    if (o.via != "http" && o.via != "file")
        return usage_error(
            "--via must be http (raregen serve fed by raregen load) or file "
            "(raregen run over the intents file)");
    if (o.connections == 0 || o.batch == 0)
        return usage_error("--connections and --batch must be at least 1");
    const char* arc_env = std::getenv("ARC_URL");
    const bool local_network = arc_env == nullptr || *arc_env == '\0';
    if (!local_network && (o.key_file.empty() || o.from.empty()))
        return usage_error(
            "with ARC_URL set (a real network) the demo cannot fund a key itself: give "
            "--key-file (a WIF key, mode 0600) and --from TXID:VOUT:SATS (an output that key "
            "owns, worth at least 100 satoshis per intent plus fees)");
    if (local_network && (!o.key_file.empty() || !o.from.empty()))
        return usage_error(
            "--key-file and --from are for a real ARC (ARC_URL); the local "
            "network funds a new key itself");

    // ---- the working directory ----
    std::string work = o.work_dir;
    if (work.empty()) {
        std::string tmpl = "/tmp/raregen-demo.XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr)
            return internal_error(std::string("cannot make a work directory: ") +
                                  std::strerror(errno));
        work = tmpl;
    } else if (::mkdir(work.c_str(), 0700) != 0 && errno != EEXIST) {
        return usage_error("--work-dir " + work + ": " + std::strerror(errno));
    }
    say("working in " + work);
    auto at = [&work](const std::string& name) { return work + "/" + name; };
    std::string error;

    // ---- the database ----
    std::optional<pg::EmbeddedPostgres> embedded;
    std::string conninfo;
    if (const char* url = std::getenv("DATABASE_URL"); url != nullptr && *url != '\0') {
        conninfo = url;
        say("database: DATABASE_URL (" + pg::describe_target(conninfo) + ")");
    } else {
        try {
            embedded.emplace(pg::EmbeddedOptions{});
        } catch (const std::exception& e) {
            return internal_error(std::string("the private PostgreSQL could not start: ") +
                                  e.what());
        }
        conninfo = embedded->conninfo();
        say("database: a private PostgreSQL in " + embedded->directory() + " (removed at the end)");
    }
    std::vector<std::pair<std::string, std::string>> env = {{"DATABASE_URL", conninfo}};

    // ---- the network ----
    Background network;
    std::string arc_url;
    if (local_network) {
        const std::string port_file = at("network.port");
        std::remove(port_file.c_str());  // a reused --work-dir must not point at an old server
        std::vector<std::string> args = {"network",           "serve",       "--listen",
                                         "127.0.0.1:0",       "--port-file", port_file,
                                         "--exit-with-parent"};
        args.insert(args.end(), o.network_args.begin(), o.network_args.end());
        say("$ raregen " + join(args) + " &");
        // The network needs none of the operator's secrets.
        network.pid = spawn_self(
            ChildSpec{args, {{"DATABASE_URL", ""}, {"ARC_API_KEY", ""}}, at("network.json")},
            error);
        if (network.pid < 0) return internal_error(error);
        if (std::string why = await_port(network, port_file, "network serve"); !why.empty())
            return internal_error(why + " (check --network-arg flags)");
        arc_url = network.url;
        say("network: the local ARC-compatible network at " + arc_url);
    } else {
        arc_url = arc_env;
        say("network: ARC_URL (" + arc_url + ")");
    }
    env.emplace_back("ARC_URL", arc_url);
    if (local_network) env.emplace_back("ARC_API_KEY", "");  // the local network needs none
    // The operator's key is for a real ARC, never sent to the local network.
    const std::string api_key = local_network ? std::string() : arc_api_key_from_env();

    // ---- a funded key ----
    std::string key_file = o.key_file;
    std::string from = o.from;
    if (local_network) {
        key_file = at("key.wif");
        if (step({"keys", "generate", "--testnet", "--out", key_file, "--force"}, "/dev/null", env,
                 error) != 0)
            return internal_error(error);
        const auto wif = read_key_file(key_file, "the generated key");
        if (!wif) return internal_error(wif.error);
        const chain::PublicKey pub = chain::public_key_of(wif.value->key, wif.value->compressed);
        const std::string address =
            chain::p2pkh_address(chain::hash160(pub.span()), wif.value->network);
        // 100 satoshis per intent, plus room for the split fees.
        const std::int64_t satoshis = static_cast<std::int64_t>(o.intents) * 100 + 1'000'000;
        say("funding " + address + " with " + std::to_string(satoshis) +
            " satoshis on the local network (POST /admin/fund)");
        const HttpResponse r =
            arc_call(arc_url + "/admin/fund", api_key, "application/json",
                     Json{{"address", address}, {"satoshis", satoshis}, {"outputs", 1}}.dump());
        if (!http_ok(r))
            return internal_error("funding on the local network failed: " + http_problem(r));
        try {
            const Json j = Json::parse(r.body);
            const Json& out = j.at("outputs").at(0);
            from = j.at("txid").get<std::string>() + ":" +
                   std::to_string(out.at("vout").get<std::uint32_t>()) + ":" +
                   std::to_string(out.at("satoshis").get<std::int64_t>());
        } catch (const std::exception& e) {
            return internal_error(std::string("the network's fund answer is unreadable: ") +
                                  e.what());
        }
    }

    // ---- publish UTXOs, intents ----
    const std::string n = std::to_string(o.intents);
    if (step({"utxos", "split", "--from", from, "--key-file", key_file, "--count", n, "--out",
              at("utxos.txt"), "--arc-url", arc_url},
             at("split.json"), env, error) != 0)
        return internal_error(error);
    std::vector<std::string> gen = {"gen",
                                    "intents",
                                    n,
                                    "--signers",
                                    std::to_string(o.signers),
                                    "--out",
                                    at("intents.ndjson"),
                                    "--registered",
                                    at("registered.txt"),
                                    "--force"};
    if (o.invalid_share > 0) {
        gen.push_back("--invalid-share");
        gen.push_back(std::to_string(o.invalid_share));
    }
    if (step(gen, "/dev/null", env, error) != 0) return internal_error(error);

    // ---- the pipeline ----
    // The engine's flags, the same for `raregen run` and `raregen serve`.
    std::vector<std::string> engine_args = {"--utxos",   at("utxos.txt"), "--key-file",
                                            key_file,    "--registered",  at("registered.txt"),
                                            "--arc-url", arc_url,         "--change"};
    if (!o.gate) engine_args.push_back("--no-gate");
    engine_args.insert(engine_args.end(), o.run_args.begin(), o.run_args.end());
    double run_cpu = 0;
    int run_rc = 0;
    std::string summary_path;
    std::optional<Json> load_summary;
    double wall_seconds = 0;  // --via http: first POST -> serve drained and exited
    std::string load_failure;
    const bool via_http = o.via == "http";
    if (!via_http) {
        std::vector<std::string> run = {"run", "--intents", at("intents.ndjson"), "--rejects",
                                        at("rejects.jsonl")};
        run.insert(run.end(), engine_args.begin(), engine_args.end());
        summary_path = at("run.json");
        run_rc = step(run, summary_path, env, error, &run_cpu);
    } else {
        // The service, on a free loopback port, with the API in front.
        const std::string port_file = at("api.port");
        std::remove(port_file.c_str());
        std::vector<std::string> serve = {"serve", "--listen", "127.0.0.1:0", "--port-file",
                                          port_file};
        serve.insert(serve.end(), engine_args.begin(), engine_args.end());
        summary_path = at("serve.json");
        say("$ raregen " + join(serve) + " > " + summary_path + " &");
        Background service;
        service.pid = spawn_self(ChildSpec{serve, env, summary_path}, error);
        if (service.pid < 0) return internal_error(error);
        if (std::string why = await_port(service, port_file, "serve"); !why.empty())
            return internal_error(why);
        say("service: RareGen's HTTP API at " + service.url);
        // Its clients: every intent POSTed over many keep-alive connections.
        const auto t0 = std::chrono::steady_clock::now();
        const int load_rc = step({"load", "--url", service.url, "--intents", at("intents.ndjson"),
                                  "--connections", std::to_string(o.connections), "--batch",
                                  std::to_string(o.batch), "--answers", at("answers.jsonl")},
                                 at("load.json"), env, error);
        load_summary = read_json(at("load.json"));
        // SIGTERM: intake stops, everything accepted is published, exit 0.
        say("$ kill -TERM " + std::to_string(service.pid) +
            "   # raregen serve: intake stops, everything accepted is published");
        run_cpu = service.stop(&run_rc);
        wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (!load_summary)
            return internal_error("`raregen load` failed (exit code " + std::to_string(load_rc) +
                                  ") and wrote no summary; its messages are above");
        if (load_rc != 0) load_failure = "`raregen load` exited with " + std::to_string(load_rc);
    }
    const std::string engine_cmd = via_http ? "serve" : "run";
    const auto summary = read_json(summary_path);
    if (!summary)
        return internal_error("`raregen " + engine_cmd + "` failed (exit code " +
                              std::to_string(run_rc) +
                              ") and wrote no summary; its messages are above");

    // ---- the proof: the database's jobs against the network's accepted set ----
    say("checking every job against the network");
    const std::string instance = summary->value("instance", "");
    pg::Status st;
    auto db = pg::Connection::try_connect(conninfo, st);
    if (!db) return internal_error("reconnecting to the database failed: " + st.message());
    // What the network holds: its accepted set (local network), read into
    // the audit's terms.
    std::vector<jobs::HandedOver> handed;
    if (local_network) {
        const HttpResponse r = arc_call(arc_url + "/admin/txs", api_key);
        if (!http_ok(r)) return internal_error("GET /admin/txs failed: " + http_problem(r));
        // Kept for checks after the demo (tests verify a sample with @bsv/sdk).
        std::ofstream(at("network_txs.json")) << r.body;
        try {
            const Json j = Json::parse(r.body);
            for (const Json& t : j.at("txs")) {
                const auto raw = chain::from_hex(t.at("rawTx").get<std::string>());
                if (!raw)
                    return internal_error("the network's /admin/txs has a rawTx that is not hex");
                auto h = jobs::handed_over(*raw);
                if (!h) return internal_error("the network's /admin/txs has an unreadable rawTx");
                handed.push_back(std::move(*h));
            }
        } catch (const std::exception& e) {
            return internal_error(std::string("the network's /admin/txs is unreadable: ") +
                                  e.what());
        }
    }
    jobs::ExactlyOnceAudit audit;
    if (pg::Status as =
            jobs::audit_exactly_once(*db, instance, local_network ? &handed : nullptr, audit);
        !as.ok())
        return internal_error("auditing the database failed: " + as.message());
    const std::size_t job_count = audit.jobs, sent = audit.sent;
    Json proof;
    proof["jobs"] = audit.jobs;
    proof["sent"] = audit.sent;
    proof["failed"] = audit.failed;
    proof["failed_by_code"] = audit.failed_by_code;
    proof["unfinished"] = audit.unfinished;
    proof["sent_without_tx"] = audit.sent_without_tx;
    proof["utxo_disagrees"] = audit.utxo_disagrees;
    bool ok = audit.ok() && audit.sent > 0;
    if (local_network) {
        proof["network_publications"] = audit.publications;
        proof["matched"] = audit.matched;
        proof["missing_on_network"] = audit.missing;
        proof["published_twice"] = audit.twice;
        proof["txid_differs"] = audit.txid_differs;
        proof["not_a_sent_job"] = audit.not_a_sent_job;
        proof["outpoint_spent_twice"] = audit.outpoint_twice;
        ok = ok && audit.publications == audit.sent;
    } else {
        // A real ARC: look every sent job up by txid.
        pg::Result txids = db->exec_params(
            "SELECT txid FROM publish_jobs WHERE instance_id = $1 AND status IN ('sent', "
            "'confirmed')",
            instance);
        if (!txids.ok()) return internal_error("reading publish_jobs failed: " + txids.error());
        std::size_t known = 0, unknown_txids = 0;
        for (int i = 0; i < txids.rows(); ++i) {
            if (http_ok(arc_call(arc_url + "/v1/tx/" + std::string(txids.text(i, 0)), api_key)))
                ++known;
            else
                ++unknown_txids;
        }
        proof["known_to_arc"] = known;
        proof["unknown_to_arc"] = unknown_txids;
        ok = ok && unknown_txids == 0;
    }
    // Every batch the run made has its one publish_batches row, counting its
    // jobs, and batch_seq 1..N.
    proof["batches"] = audit.batches.batches;
    proof["batches_without_row"] = audit.batches.without_row;
    proof["batch_count_differs"] = audit.batches.count_differs;
    proof["batch_seq_broken"] = audit.batches.seq_broken;
    ok = ok && audit.batches.batches > 0;
    if (via_http) {
        // Every intent the API answered 202 (or 200: its existing job) is a
        // job that was published; none went unanswered. (A 200 names the
        // job of an earlier intent: the set of jobs is what is checked.)
        std::set<std::string> answered_jobs;
        std::ifstream answers(at("answers.jsonl"));
        for (std::string line; std::getline(answers, line);) {
            const Json a = Json::parse(line, nullptr, false);
            if (a.is_discarded()) continue;
            const int status = a.value("status", 0);
            if (status != 202 && status != 200) continue;
            const std::string id = a.value("jobId", "");
            if (id.empty() || id.find_first_of("{},\"\\ ") != std::string::npos) continue;
            answered_jobs.insert(id);
        }
        std::string ids = "{";
        for (const std::string& id : answered_jobs) {
            if (ids.size() > 1) ids.push_back(',');
            ids += id;
        }
        ids.push_back('}');
        const std::size_t answered = answered_jobs.size();
        pg::Result sent_answered = db->exec_params(
            "SELECT count(*) FROM publish_jobs WHERE job_id = ANY($1::text[]) AND status IN "
            "('sent', 'confirmed')",
            ids);
        if (!sent_answered.ok())
            return internal_error("reading publish_jobs failed: " + sent_answered.error());
        const std::size_t published = std::stoull(std::string(sent_answered.text(0, 0)));
        const std::size_t unanswered = load_summary->value("unanswered", std::size_t{0});
        proof["jobs_answered_202_or_200"] = answered;
        proof["answered_not_published"] = answered - published;
        proof["unanswered_intents"] = unanswered;
        ok = ok && answered > 0 && published == answered && unanswered == 0;
    }
    if (!audit.example.empty()) proof["example"] = audit.example;
    proof["exactly_once"] = ok;
    // The network's CPU covers the split and the proof's queries too: an
    // upper bound on what the run cost it.
    const double network_cpu = network.stop();

    // ---- the report ----
    Json report;
    report["work_dir"] = work;  // kept: it holds the key (key.wif, 0600) and every step's files
    report["database"] =
        embedded ? std::string("embedded (removed at the end)") : pg::describe_target(conninfo);
    report["network"] = local_network ? "local (" + arc_url + ")" : arc_url;
    report["intents"] = summary->value("intents", Json::object());
    if (auto split = read_json(at("split.json")))
        report["split"] = Json{{"transactions", split->value("transactions", 0)},
                               {"outputs", split->value("outputs", 0)}};
    report["transactions"] = summary->value("transactions", Json::object());
    // With the API: from the first POST to the service drained (the
    // service's own lifetime also counts its start-up).
    const double seconds = via_http ? wall_seconds : summary->value("seconds", 0.0);
    const double tx_per_second =
        via_http ? (wall_seconds > 0 ? static_cast<double>(sent) / wall_seconds : 0.0)
                 : summary->value("tx_per_second", 0.0);
    report["via"] = via_http ? "http: raregen serve, fed by raregen load"
                             : "file: raregen run over the intents file";
    if (load_summary) {
        Json api;
        for (const char* k : {"route", "connections", "accepted", "existing", "refused",
                              "refused_by_code", "unanswered", "retried_unavailable",
                              "retried_no_answer", "answered_per_second", "latency_ms"})
            if (load_summary->contains(k)) api[k] = (*load_summary)[k];
        report["api"] = api;
    }
    report["seconds"] = seconds;
    report["tx_per_second"] = tx_per_second;
    report["latency_ms"] = summary->value("latency_ms", Json::object());
    Json cpu;
    cpu[via_http ? "engine_serve_s" : "engine_run_s"] = run_cpu;
    if (local_network) cpu["local_network_s"] = network_cpu;
    const double sent_d = static_cast<double>(sent);
    if (sent > 0) {
        cpu["engine_us_per_tx"] = run_cpu * 1e6 / sent_d;
        if (local_network) cpu["network_us_per_tx"] = network_cpu * 1e6 / sent_d;
    }
    if (embedded) {
        if (const auto db_cpu = process_tree_cpu_seconds(embedded->server_pid())) {
            cpu["database_s"] = *db_cpu;
            if (sent > 0) cpu["database_us_per_tx"] = *db_cpu * 1e6 / sent_d;
        }
    }
    report["cpu"] = cpu;
    report["stages"] = summary->value("stages", Json::object());
    report["arc"] = summary->value("arc", Json::object());
    report["write_behind"] = summary->value("write_behind", Json::object());
    report["proof"] = proof;
    const int printed = print_json(report);
    say(std::string(ok ? "OK" : "FAILED") + ": " + std::to_string(sent) + " of " +
        std::to_string(job_count) + " jobs sent, " +
        (ok ? "each accepted by the network exactly once"
            : "the proof does not hold (see \"proof\")") +
        "; " + std::to_string(tx_per_second) + " tx/s");
    if (run_rc != 0)
        return internal_error("`raregen " + engine_cmd + "` exited with " + std::to_string(run_rc));
    if (!load_failure.empty()) return internal_error(load_failure);
    if (!ok) return internal_error("the exactly-once proof failed (see \"proof\" in the report)");
    return printed;
}

}  // namespace

void register_demo_command(CLI::App& app) {
    auto o = std::make_shared<DemoOptions>();
    CLI::App* demo = app.add_subcommand(
        "demo",
        "The whole job end to end: a database (DATABASE_URL, else a private PostgreSQL), a "
        "network (ARC_URL, else the local ARC-compatible network), a funded key, 100-satoshi "
        "UTXOs split on the network, N signed intents, raregen serve (the pipeline sending to ARC "
        "behind RareGen's HTTP API) fed over HTTP by raregen load from many connections (or "
        "raregen run over a file, --via file), and a report with throughput, latency and the proof "
        "that every job was published exactly "
        "once. Each step is a raregen command, printed as it runs.");
    demo->add_option("--intents,-n", o->intents, "How many intents to publish")
        ->capture_default_str();
    demo->add_option("--signers", o->signers, "How many registered keys sign the intents")
        ->capture_default_str();
    demo->add_option("--invalid-share", o->invalid_share,
                     "Share of deliberately invalid intents (rejected at intake, by reason)")
        ->capture_default_str();
    demo->add_flag("--gate", o->gate,
                   "Run with the seed's rate gate (MAX_TX_PER_3S, default 500 per 3 s) instead "
                   "of open");
    demo->add_option("--work-dir", o->work_dir, "Where the files go (default: a new temp dir)");
    demo->add_option("--key-file", o->key_file, "With ARC_URL: the funded WIF key (mode 0600)");
    demo->add_option("--from", o->from, "With ARC_URL: the key's funding output TXID:VOUT:SATS");
    demo->add_option("--network-arg", o->network_args,
                     "Extra flag for `raregen network serve` (repeat; e.g. --network-arg=--fail "
                     "--network-arg=503=0.1)")
        ->allow_extra_args(false);
    demo->add_option("--via", o->via,
                     "How intents reach the engine: http (raregen serve, its API fed by raregen "
                     "load) or file (raregen run over the intents file)")
        ->capture_default_str();
    demo->add_option("--connections", o->connections,
                     "With --via http: the load client's concurrent keep-alive connections")
        ->capture_default_str();
    demo->add_option("--batch", o->batch,
                     "With --via http: intents per request (1: one POST /v1/publish each, as the "
                     "old service's clients send them; more: POST /v1/publish/batch)")
        ->capture_default_str();
    demo->add_option("--run-arg", o->run_args,
                     "Extra flag for `raregen serve` / `raregen run` (repeat)")
        ->allow_extra_args(false);
    demo->footer(
        "Environment: DATABASE_URL, ARC_URL, ARC_API_KEY (all optional).\nOutput: a JSON "
        "report on stdout; progress and each command on stderr. Exit 0 only if the proof "
        "holds.");
    set_action(*demo, [o] { return run_demo(*o); });
}

}  // namespace raregen::cli
