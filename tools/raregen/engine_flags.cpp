#include "tools/raregen/engine_flags.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <string>

#include "engine/chain/fees.h"
#include "stages/send/arc_client.h"
#include "storage/utxo/utxo_file.h"
#include "tools/raregen/common.h"

namespace raregen::cli {

namespace {

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

}  // namespace

void env_default_u64(const char* name, std::uint64_t& value) {
    env_default(name, value);
}

void apply_env_defaults(EngineFlags& f) {
    env_default("BATCH_WINDOW_MS", f.window_ms);
    env_default("MAX_BATCH_SIZE", f.batch_size);
    env_default("MAX_TX_PER_3S", f.rate);
    // The seed's names win over its predecessor's.
    env_default("MIN_UTXO_POOL_SIZE", f.min_pool);
    env_default("MIN_POOL_SIZE", f.min_pool);
    env_default("UTXO_SPLIT_SIZE", f.split_batch);
    env_default("SPLIT_BATCH_SIZE", f.split_batch);
    env_default("POOL_CHECK_INTERVAL_MS", f.pool_check_ms);
    env_default("SPLIT_COOLDOWN_MS", f.split_cooldown_ms);
}

int engine_config_from_flags(const EngineFlags& o, bool memory, service::EngineConfig& c) {
    const auto wif = key_file_or_env(
        o.key_file,
        "no publication key: give --key-file PATH (a mode 0600 file holding the WIF; `raregen "
        "keys generate --out PATH` makes one) or set RAREGEN_WIF");
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
        as.policy_refresh = std::chrono::milliseconds(o.arc_policy_refresh_ms);
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
    c.memory = memory;
    c.keep_db = o.keep_db;
    c.adopt_legacy = o.adopt_legacy;
    c.ring_capacity = o.ring_capacity;
    c.flush_max = static_cast<std::size_t>(o.flush_max);
    c.lease = std::chrono::seconds(o.lease_s);
    if (o.publish_value == 0 || o.publish_value > 1'000'000)
        return usage_error(
            "--publish-value must be 1..1000000 satoshis (the value of the "
            "outputs `raregen utxos split` makes; default 100)");
    c.publish_value = static_cast<std::int64_t>(o.publish_value);
    if (o.no_replenish) {
        c.replenish.reset();
    } else {
        if (o.split_batch == 0 || o.split_batch > 10'000'000)
            return usage_error("--split-batch-size must be 1..10000000 outputs, got " +
                               std::to_string(o.split_batch));
        if (o.split_per_tx == 0 || o.split_per_tx > 100'000)
            return usage_error("--split-per-tx must be 1..100000 outputs, got " +
                               std::to_string(o.split_per_tx));
        if (o.pool_check_ms < 10 || o.pool_check_ms > 86'400'000)
            return usage_error("--pool-check-interval-ms must be 10..86400000, got " +
                               std::to_string(o.pool_check_ms));
        if (o.split_cooldown_ms > 86'400'000)
            return usage_error("--split-cooldown-ms must be at most 86400000, got " +
                               std::to_string(o.split_cooldown_ms));
        service::ReplenishSettings rs;
        rs.min_pool = static_cast<std::size_t>(o.min_pool);
        rs.split_batch = static_cast<std::size_t>(o.split_batch);
        rs.check_interval = std::chrono::milliseconds(o.pool_check_ms);
        rs.cooldown = std::chrono::milliseconds(o.split_cooldown_ms);
        rs.per_tx = static_cast<std::size_t>(o.split_per_tx);
        c.replenish = rs;
    }
    c.fee_rate = *fee;
    c.change = o.change;
    c.channel_capacity = o.channel_capacity;
    c.batch_prefix = o.batch_prefix;
    c.batch_window = std::chrono::milliseconds(o.window_ms);
    c.max_batch_size = o.batch_size;
    c.rate = o.rate;
    c.period = std::chrono::milliseconds(o.period_ms);
    c.no_gate = o.no_gate;
    c.shared_rate = !o.engine_rate;
    c.out_path = o.out;
    c.encoding = o.encoding == "ef" ? send::TxEncoding::ef_hex : send::TxEncoding::raw_hex;
    c.callback_listen = o.callback_listen;
    c.callback_wait = std::chrono::milliseconds(static_cast<long long>(o.callback_wait_s * 1000));
    c.progress_interval = std::chrono::milliseconds(static_cast<long long>(o.progress_s * 1000));

    // Every setting checked before a file is read or truncated.
    if (service::EngineError e = service::Engine::check(c); e) return usage_error(e.message);
    if (memory && o.utxos.empty()) return usage_error("--utxos is required with --memory");

    if (!o.utxos.empty()) {
        utxo::UtxoFileResult utxos = utxo::load_utxo_file(o.utxos);
        if (!utxos.ok()) return usage_error(utxos.describe(o.utxos));
        c.utxos = std::move(utxos.utxos);
    }
    if (!o.funding.empty() && memory)
        return usage_error("--funding needs a database (it is split by the replenisher)");
    for (const std::string& arg : o.funding) {
        const auto u = parse_outpoint_arg(arg);
        if (!u) return usage_error("--funding " + u.error);
        c.funding.push_back(*u.value);
    }
    if (!memory)
        if (const char* url = std::getenv("DATABASE_URL"); url != nullptr) c.database_url = url;
    return k_exit_ok;
}

void add_engine_flags(CLI::App& cmd, EngineFlags& f) {
    EngineFlags* opts = &f;
    cmd.add_option("--utxos", opts->utxos,
                   "UTXO file: one 'TXID:VOUT SATOSHIS' per line (raregen gen utxos); with a "
                   "database it is imported into the utxos table, which the run leases from");
    cmd.add_option("--key-file", opts->key_file,
                   "WIF private key in a file with mode 0600 (raregen keys generate --out); "
                   "default: the environment variable RAREGEN_WIF");
    cmd.add_option("--registered", opts->registered,
                   "registered signers: one 'PUBKEY_HEX [active|revoked]' per line; with a "
                   "database they are registered in registered_keys (raregen keys register)");
    cmd.add_option("--out", opts->out,
                   "write the signed transactions to this file, one hex line each (- for "
                   "stdout), instead of sending them to ARC");
    cmd.add_option("--arc-url", opts->arc_url,
                   "broadcast to this ARC (env ARC_URL), e.g. the URL `raregen network serve` "
                   "prints; the API key comes from ARC_API_KEY or --arc-api-key-file");
    cmd.add_option("--arc-api-key-file", opts->arc_key_file,
                   "file (mode 0600) holding the ARC API key (default: env ARC_API_KEY)");
    cmd.add_option("--arc-batch", opts->arc_batch, "transactions per POST /v1/txs")
        ->capture_default_str();
    cmd.add_option("--arc-in-flight", opts->arc_in_flight, "ARC requests in flight at once")
        ->capture_default_str();
    cmd.add_option("--arc-wait-for", opts->arc_wait_for, "X-WaitFor status")->capture_default_str();
    cmd.add_option("--arc-timeout-ms", opts->arc_timeout_ms, "timeout of one ARC request")
        ->capture_default_str();
    cmd.add_option("--arc-policy-refresh-ms", opts->arc_policy_refresh_ms,
                   "how often GET /v1/policy is read again (the fee rate; /health calls ARC "
                   "unreachable when no policy came for 3 periods)")
        ->check(CLI::Range(std::uint64_t{100}, std::uint64_t{86'400'000}))
        ->capture_default_str();
    cmd.add_option("--arc-attempts", opts->arc_attempts,
                   "tries per transaction on timeouts and 5xx before it is left unresolved")
        ->capture_default_str();
    cmd.add_option("--callback-url", opts->callback_url,
                   "X-CallbackUrl: where ARC posts status updates (see --callback-listen)");
    cmd.add_option("--callback-token-file", opts->callback_token_file,
                   "file (mode 0600) with the X-CallbackToken ARC sends back as Bearer");
    cmd.add_option("--callback-listen", opts->callback_listen,
                   "serve ARC callbacks on HOST:PORT (PORT 0: any): MINED marks jobs "
                   "confirmed; needs --callback-token-file; --callback-url defaults to it");
    cmd.add_option("--callback-wait-s", opts->callback_wait_s,
                   "after the last send, wait up to this long for MINED callbacks")
        ->capture_default_str();
    cmd.add_option("--encoding", opts->encoding, "ef (Extended Format, what ARC takes) or raw")
        ->capture_default_str();
    cmd.add_option("--window-ms", opts->window_ms, "batch window in ms (env BATCH_WINDOW_MS)")
        ->capture_default_str();
    cmd.add_option("--batch-size", opts->batch_size, "largest batch (env MAX_BATCH_SIZE)")
        ->capture_default_str();
    cmd.add_option("--rate", opts->rate,
                   "transactions per period through the gate (env MAX_TX_PER_3S); with ARC and a "
                   "database, the limit of every engine on the database together")
        ->capture_default_str();
    cmd.add_flag("--engine-rate", opts->engine_rate,
                 "the rate limits this engine alone (not shared through the database: N engines "
                 "then send N times --rate)");
    cmd.add_option("--period-ms", opts->period_ms, "the gate's period in ms")
        ->capture_default_str();
    cmd.add_flag("--no-gate", opts->no_gate, "open the gate (no rate limit): for benchmarks");
    cmd.add_flag("--change", opts->change, "add a change output back to the key's address");
    cmd.add_option("--fee-rate", opts->fee_rate, "fee rate SATS/BYTES")->capture_default_str();
    cmd.add_option("--max-age", opts->max_age_s, "oldest record timestamp accepted, in seconds")
        ->capture_default_str();
    cmd.add_option("--channel-capacity", opts->channel_capacity,
                   "items per queue between stages (default 1024 in memory, 4096 with a database)");
    cmd.add_option("--batch-prefix", opts->batch_prefix,
                   "batch ids are b-<prefix>-<n> (default: r<pid>)");
    cmd.add_option("--seed", opts->seed, "seed for job ids (default: random)");
    cmd.add_flag("--adopt-legacy", opts->adopt_legacy,
                 "the old RareGen service is stopped for good: publish the jobs it left in "
                 "processing_batch, look its sending jobs up at ARC, report the rest");
    cmd.add_flag("--keep-db", opts->keep_db,
                 "without DATABASE_URL: keep the private PostgreSQL's directory after the run");
    cmd.add_option("--ring", opts->ring_capacity, "UTXOs held in memory (leased from the database)")
        ->capture_default_str();
    cmd.add_option("--flush-max", opts->flush_max, "facts per write-behind transaction at most")
        ->capture_default_str();
    cmd.add_option("--lease-s", opts->lease_s, "UTXO lease in seconds (renewed while running)")
        ->capture_default_str();
    cmd.add_option("--publish-value", opts->publish_value,
                   "only UTXOs of exactly this many satoshis are spent by publications (larger "
                   "ones are funding, never burnt as a fee)")
        ->capture_default_str();
    cmd.add_flag("--no-replenish", opts->no_replenish,
                 "do not split funding into publish UTXOs when the pool runs low (with ARC and "
                 "a database the replenisher runs by default)");
    cmd.add_option("--funding", opts->funding,
                   "an output of the key to split into publish UTXOs, TXID:VOUT:SATS (imported "
                   "as purpose funding; e.g. from `raregen network fund`); may be repeated")
        ->type_name("TXID:VOUT:SATS");
    cmd.add_option("--min-pool-size", opts->min_pool,
                   "the replenisher splits when fewer publish UTXOs than this are available "
                   "(env MIN_POOL_SIZE, or MIN_UTXO_POOL_SIZE)")
        ->capture_default_str();
    cmd.add_option("--split-batch-size", opts->split_batch,
                   "publish UTXOs the replenisher makes per split (env SPLIT_BATCH_SIZE, or "
                   "UTXO_SPLIT_SIZE)")
        ->capture_default_str();
    cmd.add_option("--pool-check-interval-ms", opts->pool_check_ms,
                   "how often the replenisher reads the pool depth (env POOL_CHECK_INTERVAL_MS; "
                   "earlier when the pool would run out before the next check)")
        ->capture_default_str();
    cmd.add_option("--split-cooldown-ms", opts->split_cooldown_ms,
                   "least time between two splits, unless the pool would run out first (env "
                   "SPLIT_COOLDOWN_MS)")
        ->capture_default_str();
    cmd.add_option("--split-per-tx", opts->split_per_tx,
                   "outputs per split transaction (a split of --split-batch-size is a chain of "
                   "these)")
        ->capture_default_str();
    cmd.add_option("--progress", opts->progress_s,
                   "seconds between progress lines on stderr (0: none)")
        ->capture_default_str();
}

}  // namespace raregen::cli
