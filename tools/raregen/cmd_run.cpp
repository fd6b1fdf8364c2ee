// `raregen run`: the whole pipeline over a file of intents:
// ingest -> sequence -> sign -> gate -> send, to ARC (--arc-url / ARC_URL:
// stages/send/arc_client.h, with ARC callbacks if --callback-listen) or to a
// file of signed transactions (--out).
//
// With a database (the default): DATABASE_URL, or with none a private
// PostgreSQL started for the run. Every fact goes through the write-behind,
// the gate's fence holds each transaction until its bytes are durable,
// signers and recent nonces come from the database, UTXOs are leased from
// the `utxos` table (the --utxos file is imported into it first), and the
// unfinished jobs of dead engines (a killed earlier run) are resumed. The
// output file is appended to and written through, so a killed run loses
// nothing it recorded as sent. --memory runs without any of that.
//
// Settings: flags, with defaults from the seed service's environment
// variables (BATCH_WINDOW_MS, MAX_BATCH_SIZE, MAX_TX_PER_3S) where it had one.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "engine/chain/fees.h"
#include "service/engine/engine.h"
#include "stages/ingest/ingest_stage.h"
#include "stages/send/arc_client.h"
#include "storage/utxo/utxo_file.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"

namespace raregen::cli {

namespace {

struct RunOptions {
    std::string intents;
    std::string utxos;
    std::string key_file;
    std::string registered;
    std::string out;
    std::string rejects;
    std::string encoding = "ef";
    std::string fee_rate = "100/1000";
    std::string batch_prefix;
    std::uint64_t window_ms = 5000;
    std::uint32_t batch_size = 500;
    std::uint32_t rate = 500;
    std::uint64_t period_ms = 3000;
    std::uint64_t max_age_s = 600;
    std::size_t channel_capacity = 0;  // 0: 1024 in memory, 4096 with a database
    std::uint64_t seed = 0;
    double progress_s = 1.0;
    bool change = false;
    bool no_gate = false;
    bool memory = false;        // no database at all
    bool keep_db = false;       // keep the private cluster's directory
    bool adopt_legacy = false;  // the old RareGen service is stopped for good: take its work
    std::size_t ring_capacity = 4096;
    std::uint64_t flush_max = 8192;
    std::uint64_t lease_s = 300;
    // ARC (instead of --out)
    std::string arc_url;  // default: env ARC_URL
    std::string arc_key_file;
    std::size_t arc_batch = 500;
    std::size_t arc_in_flight = 4;
    std::string arc_wait_for = "SEEN_ON_NETWORK";
    std::uint64_t arc_timeout_ms = 15000;
    int arc_attempts = 8;
    std::string callback_url;
    std::string callback_token_file;
    std::string callback_listen;  // HOST:PORT of the callback endpoint
    double callback_wait_s = 0;   // after the drain: wait this long for confirmations
};

// A default from the environment, if set and numeric.
template <class T>
void env_default(const char* name, T& value) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') {
        char* end = nullptr;
        const unsigned long long n = std::strtoull(v, &end, 10);
        if (end != nullptr && *end == '\0')
            value = static_cast<T>(n);
        else
            warn(std::string("ignoring ") + name + "=" + v + ": not a whole number");
    }
}

int run_pipeline(const RunOptions& o) {
    // ---- inputs, each checked before anything runs ----
    service::EngineConfig c;
    const auto wif = read_key_file(o.key_file);
    if (!wif) return usage_error(wif.error);
    c.key.emplace(wif.value->key, wif.value->compressed);
    // Flags first: a typo must not wait for a database to start.
    const auto fee = chain::parse_fee_rate(o.fee_rate);
    if (!fee)
        return usage_error("--fee-rate must be SATS/BYTES (e.g. 100/1000) with BYTES > 0, got '" +
                           o.fee_rate + "'");
    if (o.encoding != "ef" && o.encoding != "raw")
        return usage_error("--encoding must be 'ef' or 'raw', got '" + o.encoding + "'");
    std::string arc_url = o.arc_url;
    if (arc_url.empty())
        if (const char* e = std::getenv("ARC_URL"); e != nullptr) arc_url = e;
    if (!arc_url.empty()) {
        send::ArcSettings& as = c.arc.emplace();
        as.url = arc_url;
        if (!o.arc_key_file.empty()) {
            auto k = read_secret_file(o.arc_key_file);
            if (!k) return usage_error("--arc-api-key-file: " + k.error);
            as.api_key = std::string(k.value->view());
        } else if (const char* e = std::getenv("ARC_API_KEY"); e != nullptr) {
            as.api_key = e;
        }
        as.wait_for = o.arc_wait_for;
        as.batch_max = o.arc_batch;
        as.max_in_flight = o.arc_in_flight;
        as.request_timeout = std::chrono::milliseconds(o.arc_timeout_ms);
        as.max_attempts = o.arc_attempts;
        as.fee_floor = *fee;
        as.callback_url = o.callback_url;
        if (!o.callback_token_file.empty()) {
            auto t = read_secret_file(o.callback_token_file);
            if (!t) return usage_error("--callback-token-file: " + t.error);
            as.callback_token = std::string(t.value->view());
        }
    }
    c.max_age = std::chrono::seconds(o.max_age_s);
    c.seed = o.seed;
    c.registered_file = o.registered;
    c.memory = o.memory;
    c.keep_db = o.keep_db;
    c.adopt_legacy = o.adopt_legacy;
    c.ring_capacity = o.ring_capacity;
    c.flush_max = static_cast<std::size_t>(o.flush_max);
    c.lease = std::chrono::seconds(o.lease_s);
    c.fee_rate = *fee;
    c.change = o.change;
    c.channel_capacity = o.channel_capacity;
    c.batch_prefix = o.batch_prefix;
    c.batch_window = std::chrono::milliseconds(o.window_ms);
    c.max_batch_size = o.batch_size;
    c.rate = o.rate;
    c.period = std::chrono::milliseconds(o.period_ms);
    c.no_gate = o.no_gate;
    c.out_path = o.out;
    c.encoding = o.encoding == "ef" ? send::TxEncoding::ef_hex : send::TxEncoding::raw_hex;
    c.callback_listen = o.callback_listen;
    c.callback_wait = std::chrono::milliseconds(static_cast<long long>(o.callback_wait_s * 1000));
    c.progress_interval = std::chrono::milliseconds(static_cast<long long>(o.progress_s * 1000));

    // Every setting checked before a file is read or truncated.
    if (service::EngineError e = service::Engine::check(c); e) return usage_error(e.message);
    if (o.memory && o.utxos.empty()) return usage_error("--utxos is required with --memory");

    if (!o.utxos.empty()) {
        utxo::UtxoFileResult utxos = utxo::load_utxo_file(o.utxos);
        if (!utxos.ok()) return usage_error(utxos.describe(o.utxos));
        c.utxos = std::move(utxos.utxos);
    }
    int fd = 0;
    if (o.intents != "-") {
        fd = ::open(o.intents.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return usage_error("--intents " + o.intents + ": " + std::strerror(errno));
    }
    struct Closer {
        int fd;
        std::FILE* rejects = nullptr;
        ~Closer() {
            if (fd > 0) ::close(fd);
            if (rejects != nullptr) std::fclose(rejects);
        }
    } closer{fd};
    std::optional<ingest::JsonLinesRejectWriter> reject_writer;
    if (!o.rejects.empty()) {
        closer.rejects = std::fopen(o.rejects.c_str(), "w");
        if (closer.rejects == nullptr)
            return usage_error("--rejects " + o.rejects + ": " + std::strerror(errno));
        reject_writer.emplace(closer.rejects);
        c.reject_sink = &*reject_writer;
    }
    if (!o.memory)
        if (const char* url = std::getenv("DATABASE_URL"); url != nullptr) c.database_url = url;

    c.input_fd = fd;

    // ---- the engine: start, run to the end, report ----
    service::Engine engine(std::move(c));
    if (service::EngineError e = engine.start(); e)
        return e.kind == service::EngineError::Kind::usage ? usage_error(e.message)
                                                           : internal_error(e.message);
    engine.wait();
    if (closer.rejects != nullptr) {
        // Complete on disk before the summary says the run is over.
        reject_writer.reset();
        const bool closed = std::fclose(closer.rejects) == 0;
        closer.rejects = nullptr;
        if (!closed) warn("writing --rejects " + o.rejects + " failed");
    }
    const int printed = print_json(engine.summary());
    if (service::EngineError e = engine.outcome(); e)
        return e.kind == service::EngineError::Kind::usage ? usage_error(e.message)
                                                           : internal_error(e.message);
    if (const std::uint64_t n = engine.unfunded(); n > 0)
        warn("ran out of UTXOs: " + std::to_string(n) +
             " accepted jobs were not signed; load more outpoints (raregen gen utxos)");
    return printed;
}

}  // namespace

void register_run_commands(CLI::App& app) {
    auto opts = std::make_shared<RunOptions>();
    env_default("BATCH_WINDOW_MS", opts->window_ms);
    env_default("MAX_BATCH_SIZE", opts->batch_size);
    env_default("MAX_TX_PER_3S", opts->rate);
    CLI::App* run = app.add_subcommand(
        "run",
        "Run the pipeline over a file of signed intents: validate, batch, sign one publication "
        "transaction per accepted intent (one UTXO each), pass the rate gate, and broadcast the "
        "transactions to ARC (--arc-url or ARC_URL) or append them to --out, one hex line each. "
        "Durable in PostgreSQL (DATABASE_URL, else a "
        "private cluster for the run): a killed run resumes at the next start. Progress on "
        "stderr; a summary JSON on stdout. SIGINT/SIGTERM stop intake and drain: nothing "
        "accepted is lost.");
    run->add_option("--intents", opts->intents,
                    "NDJSON file of intents (POST /v1/publish bodies), or - for stdin")
        ->required();
    run->add_option("--utxos", opts->utxos,
                    "UTXO file: one 'TXID:VOUT SATOSHIS' per line (raregen gen utxos); with a "
                    "database it is imported into the utxos table, which the run leases from");
    run->add_option("--key-file", opts->key_file,
                    "WIF private key in a file with mode 0600 (raregen keys generate --out)")
        ->required();
    run->add_option("--registered", opts->registered,
                    "registered signers: one 'PUBKEY_HEX [active|revoked]' per line; with a "
                    "database they are registered in registered_keys (raregen keys register)");
    run->add_option("--out", opts->out,
                    "write the signed transactions to this file, one hex line each (- for "
                    "stdout), instead of sending them to ARC");
    run->add_option("--arc-url", opts->arc_url,
                    "broadcast to this ARC (env ARC_URL), e.g. the URL `raregen network serve` "
                    "prints; the API key comes from ARC_API_KEY or --arc-api-key-file");
    run->add_option("--arc-api-key-file", opts->arc_key_file,
                    "file (mode 0600) holding the ARC API key (default: env ARC_API_KEY)");
    run->add_option("--arc-batch", opts->arc_batch, "transactions per POST /v1/txs")
        ->capture_default_str();
    run->add_option("--arc-in-flight", opts->arc_in_flight, "ARC requests in flight at once")
        ->capture_default_str();
    run->add_option("--arc-wait-for", opts->arc_wait_for, "X-WaitFor status")
        ->capture_default_str();
    run->add_option("--arc-timeout-ms", opts->arc_timeout_ms, "timeout of one ARC request")
        ->capture_default_str();
    run->add_option("--arc-attempts", opts->arc_attempts,
                    "tries per transaction on timeouts and 5xx before it is left unresolved")
        ->capture_default_str();
    run->add_option("--callback-url", opts->callback_url,
                    "X-CallbackUrl: where ARC posts status updates (see --callback-listen)");
    run->add_option("--callback-token-file", opts->callback_token_file,
                    "file (mode 0600) with the X-CallbackToken ARC sends back as Bearer");
    run->add_option("--callback-listen", opts->callback_listen,
                    "serve ARC callbacks on HOST:PORT (PORT 0: any): MINED marks jobs "
                    "confirmed; needs --callback-token-file; --callback-url defaults to it");
    run->add_option("--callback-wait-s", opts->callback_wait_s,
                    "after the last send, wait up to this long for MINED callbacks")
        ->capture_default_str();
    run->add_option("--encoding", opts->encoding, "ef (Extended Format, what ARC takes) or raw")
        ->capture_default_str();
    run->add_option("--rejects", opts->rejects,
                    "write one JSON line per rejected intent to this file");
    run->add_option("--window-ms", opts->window_ms, "batch window in ms (env BATCH_WINDOW_MS)")
        ->capture_default_str();
    run->add_option("--batch-size", opts->batch_size, "largest batch (env MAX_BATCH_SIZE)")
        ->capture_default_str();
    run->add_option("--rate", opts->rate,
                    "transactions per period through the gate (env MAX_TX_PER_3S)")
        ->capture_default_str();
    run->add_option("--period-ms", opts->period_ms, "the gate's period in ms")
        ->capture_default_str();
    run->add_flag("--no-gate", opts->no_gate, "open the gate (no rate limit): for benchmarks");
    run->add_flag("--change", opts->change, "add a change output back to the key's address");
    run->add_option("--fee-rate", opts->fee_rate, "fee rate SATS/BYTES")->capture_default_str();
    run->add_option("--max-age", opts->max_age_s, "oldest record timestamp accepted, in seconds")
        ->capture_default_str();
    run->add_option(
        "--channel-capacity", opts->channel_capacity,
        "items per queue between stages (default 1024 in memory, 4096 with a database)");
    run->add_option("--batch-prefix", opts->batch_prefix,
                    "batch ids are b-<prefix>-<n> (default: r<pid>)");
    run->add_option("--seed", opts->seed, "seed for job ids (default: random)");
    run->add_flag("--memory", opts->memory,
                  "no database: nothing durable, nothing resumed (benchmarks, quick checks)");
    run->add_flag("--adopt-legacy", opts->adopt_legacy,
                  "the old RareGen service is stopped for good: publish the jobs it left in "
                  "processing_batch, look its sending jobs up at ARC, report the rest");
    run->add_flag("--keep-db", opts->keep_db,
                  "without DATABASE_URL: keep the private PostgreSQL's directory after the run");
    run->add_option("--ring", opts->ring_capacity,
                    "UTXOs held in memory (leased from the database)")
        ->capture_default_str();
    run->add_option("--flush-max", opts->flush_max, "facts per write-behind transaction at most")
        ->capture_default_str();
    run->add_option("--lease-s", opts->lease_s, "UTXO lease in seconds (renewed while running)")
        ->capture_default_str();
    run->add_option("--progress", opts->progress_s,
                    "seconds between progress lines on stderr (0: none)")
        ->capture_default_str();
    set_action(*run, [opts] { return run_pipeline(*opts); });
}

}  // namespace raregen::cli
