// `raregen network serve|fund`: the local ARC-compatible network
// (tools/network/arc_network.h) as a process, and funding a key on it.
//
// serve prints {"url": ...} on one line once it listens, runs until SIGINT
// or SIGTERM, then prints its final stats: two JSON documents, unlike other
// commands, because a caller needs the URL long before the process ends.
// The API key (serve's --api-key-file, fund's ARC_API_KEY or
// --api-key-file) is never printed.

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "engine/chain/fees.h"
#include "engine/chain/keys.h"
#include "service/http/http_client.h"
#include "tools/network/arc_network.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"

namespace raregen::cli {

namespace {

constexpr const char* k_api_key_env = "ARC_API_KEY";

struct ServeOptions {
    std::string listen = "127.0.0.1:0";
    std::string port_file;
    std::string fee = "100/1000";
    std::uint32_t block_interval_ms = 1000;
    unsigned threads = 0;
    std::string api_key_file;
    std::string latency;
    std::string fail;
    double timeout_share = 0;
    std::uint32_t timeout_ms = 35'000;
    double drop_share = 0;
    double reject_share = 0;
    std::uint32_t reject_min_outputs = 0;
    std::uint64_t seed = 1;
    bool exit_with_parent = false;
};

struct FundOptions {
    std::string url;
    std::string address;
    std::int64_t satoshis = 0;
    unsigned outputs = 1;
    std::string api_key_file;
};

// A whole decimal number in [0, max]; nullopt otherwise.
std::optional<std::uint64_t> parse_uint(std::string_view s, std::uint64_t max) {
    if (s.empty() || s.size() > 19) return std::nullopt;
    std::uint64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > max) return std::nullopt;
    return v;
}

std::optional<double> parse_share(std::string_view s) {
    try {
        std::size_t used = 0;
        const double d = std::stod(std::string(s), &used);
        if (used != s.size() || !(d >= 0.0 && d <= 1.0)) return std::nullopt;
        return d;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// Fills `net` from the flags; returns the error message naming the flag, or "".
std::string to_network_options(const ServeOptions& o, network::NetworkOptions& net) {
    const std::size_t colon = o.listen.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        return "--listen '" + o.listen +
               "' must be HOST:PORT, e.g. 127.0.0.1:0 (0 = any free port)";
    }
    const auto port = parse_uint(std::string_view(o.listen).substr(colon + 1), 65535);
    if (!port) return "--listen '" + o.listen + "': PORT must be a number from 0 to 65535";
    net.host = o.listen.substr(0, colon);
    net.port = static_cast<int>(*port);

    const auto fee = chain::parse_fee_rate(o.fee);
    if (!fee)
        return "--fee '" + o.fee + "' must be SATS/BYTES (e.g. 100/1000) or SATS per 1000 bytes";
    net.fee_rate = *fee;
    net.block_interval_ms = o.block_interval_ms;
    net.threads = o.threads;
    net.api_key_file = o.api_key_file;

    network::FaultOptions& f = net.faults;
    if (!o.latency.empty()) {
        const std::size_t sep = o.latency.find(':');
        const auto lo = parse_uint(std::string_view(o.latency).substr(0, sep), 600'000);
        const auto hi = sep == std::string::npos
                            ? lo
                            : parse_uint(std::string_view(o.latency).substr(sep + 1), 600'000);
        if (!lo || !hi || *lo > *hi)
            return "--latency-ms '" + o.latency +
                   "' must be MIN or MIN:MAX milliseconds with MIN <= MAX <= 600000";
        f.latency_min_ms = static_cast<std::uint32_t>(*lo);
        f.latency_max_ms = static_cast<std::uint32_t>(*hi);
    }
    std::string_view rest = o.fail;
    while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        const std::size_t eq = item.find('=');
        const auto status =
            eq == std::string_view::npos ? std::nullopt : parse_uint(item.substr(0, eq), 599);
        const auto share =
            eq == std::string_view::npos ? std::nullopt : parse_share(item.substr(eq + 1));
        if (!status || *status < 400 || !share)
            return "--fail '" + o.fail +
                   "' must be STATUS=SHARE pairs separated by commas, e.g. 503=0.1,500=0.02 "
                   "(STATUS 400..599, SHARE 0..1)";
        f.fail.emplace_back(static_cast<int>(*status), *share);
    }
    f.timeout_share = o.timeout_share;
    f.timeout_ms = o.timeout_ms;
    f.drop_share = o.drop_share;
    f.reject_share = o.reject_share;
    f.reject_min_outputs = o.reject_min_outputs;
    f.seed = o.seed;
    return network::validate_options(net);
}

int run_serve(const ServeOptions& o) {
    network::NetworkOptions net;
    if (const std::string why = to_network_options(o, net); !why.empty()) return usage_error(why);

    // Block the signals before any thread exists, so every thread inherits
    // the mask and sigwait() below is the only one to receive them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    // Started by another program (the demo): a SIGTERM when it dies, however
    // it dies, so no server outlives it. (Checked after: it may already be gone.)
    if (o.exit_with_parent) {
        const pid_t parent = ::getppid();
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) return internal_error("the parent exited before the start");
    }

    network::ArcNetwork arc(net);
    int port = 0;
    try {
        port = arc.start();
    } catch (const std::exception& e) {
        return usage_error(e.what());
    }
    if (!o.port_file.empty()) {
        if (const std::string why = write_port_file(o.port_file, port); !why.empty()) {
            arc.stop();
            return internal_error(why);
        }
    }
    std::cout << Json{{"url", arc.url()}}.dump() << std::endl;

    int received = 0;
    sigwait(&signals, &received);
    arc.stop();
    Json stats = arc.stats();
    stats["stopped_by_signal"] = received;
    return print_json(stats);
}

int run_fund(const FundOptions& o) {
    if (!chain::decode_p2pkh_address(o.address))
        return usage_error("--address '" + o.address +
                           "' is not a P2PKH address (base58check, starting with 1, m or n)");
    if (o.satoshis < 1) return usage_error("--satoshis must be at least 1");
    if (o.outputs < 1 || o.outputs > 100'000)
        return usage_error("--outputs must be from 1 to 100000");
    std::string key;
    if (!o.api_key_file.empty()) {
        auto secret = read_secret_file(o.api_key_file);
        if (!secret) return usage_error(secret.error);
        key = std::string(secret.value->view());
    } else if (const char* env = std::getenv(k_api_key_env); env != nullptr) {
        key = env;
    }
    http::HttpRequest req;
    req.method = "POST";
    std::string base = o.url;
    while (!base.empty() && base.back() == '/')
        base.pop_back();
    req.url = base + "/admin/fund";
    req.body =
        Json{{"address", o.address}, {"satoshis", o.satoshis}, {"outputs", o.outputs}}.dump();
    req.headers.push_back("Content-Type: application/json");
    if (!key.empty()) req.headers.push_back("Authorization: Bearer " + key);
    req.timeout_ms = 30'000;
    const http::HttpResponse res = http::http_request(req);
    if (!res.completed)
        return usage_error("cannot reach the network at --url " + o.url + ": " + res.error +
                           "; check that `raregen network serve` runs there");
    const Json body = Json::parse(res.body, nullptr, false);
    if (res.status != 200 || body.is_discarded()) {
        std::string detail = res.body;
        if (!body.is_discarded() && body.contains("detail") && body["detail"].is_string())
            detail = body["detail"].get<std::string>();
        return usage_error("the network refused the funding (HTTP " + std::to_string(res.status) +
                           "): " + detail +
                           (res.status == 401 ? " (set ARC_API_KEY or --api-key-file)" : ""));
    }
    return print_json(body);
}

}  // namespace

void register_network_commands(CLI::App& app) {
    CLI::App* group = app.add_subcommand(
        "network",
        "A local ARC-compatible network (ARC's /v1 API, a UTXO set, blocks, callbacks, fault "
        "injection) for tests and demos.");
    group->require_subcommand(1);

    auto s = std::make_shared<ServeOptions>();
    CLI::App* serve = group->add_subcommand(
        "serve", "Run the network until SIGINT/SIGTERM; print {\"url\"} when listening.");
    serve->add_option("--listen", s->listen, "HOST:PORT to listen on (port 0: any free port)")
        ->capture_default_str();
    serve->add_option("--port-file", s->port_file,
                      "Write the bound port to this file (atomically) once listening");
    serve->add_option("--fee", s->fee, "Fee policy SATS/BYTES")->capture_default_str();
    serve
        ->add_option("--block-interval-ms", s->block_interval_ms,
                     "Mine a block every N ms (0: never; use POST /admin/mine)")
        ->capture_default_str();
    serve
        ->add_option("--threads", s->threads,
                     "Request worker threads (0: max(16, 2 x hardware threads); each kept-alive "
                     "client connection holds one)")
        ->capture_default_str();
    serve->add_option("--api-key-file", s->api_key_file,
                      "Require 'Authorization: Bearer <key>' with the key in this file");
    serve->add_option("--latency-ms", s->latency,
                      "Injected latency per POST /v1/tx(s): MIN or MIN:MAX milliseconds");
    serve->add_option("--fail", s->fail,
                      "Injected error shares per HTTP status, e.g. 503=0.1,500=0.02");
    serve
        ->add_option("--timeout-share", s->timeout_share,
                     "Share of POSTs that sleep --timeout-ms first (half applied)")
        ->check(CLI::Range(0.0, 1.0));
    serve->add_option("--timeout-ms", s->timeout_ms, "Injected timeout length")
        ->capture_default_str();
    serve
        ->add_option("--drop-share", s->drop_share,
                     "Share of POSTs whose connection is cut (half applied)")
        ->check(CLI::Range(0.0, 1.0));
    serve
        ->add_option("--reject-share", s->reject_share,
                     "Share of valid txs answered REJECTED and not stored")
        ->check(CLI::Range(0.0, 1.0));
    serve
        ->add_option("--reject-min-outputs", s->reject_min_outputs,
                     "Only txs with at least this many outputs may be rejected (0: any), e.g. "
                     "splits and not publications")
        ->capture_default_str();
    serve->add_option("--seed", s->seed, "Seed of the fault PRNG")->capture_default_str();
    serve->add_flag("--exit-with-parent", s->exit_with_parent,
                    "Stop (as on SIGTERM) when the process that started this one exits");
    serve->footer(
        "Endpoints: GET /v1/policy, /v1/health, /v1/tx/{txid}; POST /v1/tx, /v1/txs; admin: POST "
        "/admin/fund, /admin/policy, /admin/mine; GET /admin/txs, /admin/stats.\nOutput: "
        "{\"url\"} on one line when listening; the final stats when stopped.");
    set_action(*serve, [s] { return run_serve(*s); });

    auto f = std::make_shared<FundOptions>();
    CLI::App* fund = group->add_subcommand(
        "fund", "Create funding outputs to an address on a running network (POST /admin/fund).");
    fund->add_option("--url", f->url, "The network's URL, e.g. http://127.0.0.1:8080")->required();
    fund->add_option("--address", f->address, "P2PKH address to pay")->required();
    fund->add_option("--satoshis", f->satoshis, "Satoshis per output")->required();
    fund->add_option("--outputs", f->outputs, "Number of outputs")->capture_default_str();
    fund->add_option("--api-key-file", f->api_key_file,
                     "File (mode 0600) holding the API key; default: $ARC_API_KEY");
    fund->footer("Output: {txid, rawTx, outputs: [{vout, satoshis, script}]}.");
    set_action(*fund, [f] { return run_fund(*f); });
}

}  // namespace raregen::cli
