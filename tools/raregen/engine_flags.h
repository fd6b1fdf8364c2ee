#pragma once
// The engine's settings as command-line flags, shared by `raregen run` and
// `raregen serve` (both assemble the same service::Engine): the key, signers,
// UTXO import, batching, the gate, ARC and its callbacks, storage sizes and
// progress. Defaults come from the seed service's environment variables
// where it had one (BATCH_WINDOW_MS, MAX_BATCH_SIZE, MAX_TX_PER_3S, ARC_URL,
// ARC_API_KEY, DATABASE_URL, RAREGEN_WIF).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "service/engine/engine.h"

namespace CLI {
class App;
}

namespace raregen::cli {

struct EngineFlags {
    std::string utxos;
    std::string key_file;  // else $RAREGEN_WIF
    std::string registered;
    std::string out;
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
    bool engine_rate = false;   // MAX_TX_PER_3S for this engine alone, not shared
    bool keep_db = false;       // keep the private cluster's directory
    bool adopt_legacy = false;  // the old RareGen service is stopped for good: take its work
    std::size_t ring_capacity = 4096;
    std::uint64_t flush_max = 8192;
    std::uint64_t lease_s = 300;
    std::uint64_t publish_value = 100;  // satoshis of a leasable publish UTXO
    // The replenisher (with a database and ARC)
    bool no_replenish = false;
    std::vector<std::string> funding;      // TXID:VOUT:SATS outputs of the key, imported as funding
    std::uint64_t min_pool = 50'000;       // MIN_POOL_SIZE, MIN_UTXO_POOL_SIZE
    std::uint64_t split_batch = 100'000;   // SPLIT_BATCH_SIZE, UTXO_SPLIT_SIZE
    std::uint64_t pool_check_ms = 30'000;  // POOL_CHECK_INTERVAL_MS
    std::uint64_t split_cooldown_ms = 60'000;  // SPLIT_COOLDOWN_MS
    std::uint64_t split_per_tx = 1000;
    // ARC (instead of --out)
    std::string arc_url;  // default: env ARC_URL
    std::string arc_key_file;
    std::size_t arc_batch = 500;
    std::size_t arc_in_flight = 4;
    std::string arc_wait_for = "SEEN_ON_NETWORK";
    std::uint64_t arc_timeout_ms = 15000;
    std::uint64_t arc_policy_refresh_ms = 60000;
    int arc_attempts = 8;
    std::string callback_url;
    std::string callback_token_file;
    std::string callback_listen;  // HOST:PORT of the callback endpoint
    double callback_wait_s = 0;   // after the drain: wait this long for confirmations
};

// The seed's environment defaults (BATCH_WINDOW_MS, MAX_BATCH_SIZE,
// MAX_TX_PER_3S, MIN_POOL_SIZE, SPLIT_BATCH_SIZE, POOL_CHECK_INTERVAL_MS,
// SPLIT_COOLDOWN_MS; the predecessor's MIN_UTXO_POOL_SIZE and
// UTXO_SPLIT_SIZE when the seed's name is unset); a value that is not a whole number is warned
// about and ignored.
void apply_env_defaults(EngineFlags& flags);
// A default from the environment, if set and a whole number.
void env_default_u64(const char* name, std::uint64_t& value);

// Registers the shared flags on `cmd` (help text included).
void add_engine_flags(CLI::App& cmd, EngineFlags& flags);

// Fills `config` from the flags and the environment (ARC_URL, ARC_API_KEY,
// RAREGEN_WIF; DATABASE_URL unless `memory`), reads the key, secret files and
// the UTXO file, and checks the result (service::Engine::check). Returns 0,
// or the exit code after printing what was wrong (usage_error).
int engine_config_from_flags(const EngineFlags& flags, bool memory, service::EngineConfig& config);

}  // namespace raregen::cli
