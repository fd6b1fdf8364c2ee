#pragma once
// Engine: the durable publishing engine, assembled. The one place that joins
// stages and storage: `raregen run`, `raregen demo` (through run) and the
// in-process tests build the same thing from an EngineConfig.
//
//   start()   checks the settings, then in order: the database (DATABASE_URL
//             or a private PostgreSQL; migrated), signers (a signer file is
//             registered first), UTXOs (a loaded list is imported into the
//             `utxos` table), the ARC callback endpoint, the ARC client or the
//             file sink, this engine's instance (dead engines' UTXO leases
//             reclaimed; what the old RareGen service left, reported or taken
//             over), the graph, the ARC client's start (policy read), then the
//             storage threads: write-behind, UTXO pool feeder, job feeder,
//             replenisher (with ARC)
//   wait()    until the graph has drained, then stops the rest in this order:
//             replenisher, ARC client, callbacks (after an optional wait for
//             confirmations), job feeder, pool feeder (unused leases
//             returned), write-behind (every fact flushed)
//
// A run ends when its intake file is read and every accepted job has left
// the graph (`service = false`), or when request_stop() is called or, with
// `handle_signals`, SIGINT/SIGTERM arrives (both: intake stops, every job
// already accepted is drained, nothing is lost).
//
// With `memory`, none of the storage: the ring holds the given UTXOs, signers
// come from the signer file, facts are only counted.
//
// Threads: every member function from the owning thread, except
// request_stop() and progress() (any thread, any time: a stop asked for
// before or during start() takes effect as soon as the graph runs).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chain/fees.h"
#include "engine/chain/publication.h"
#include "service/rate/shared_rate.h"
#include "service/replenish/replenisher.h"
#include "stages/ingest/ingest_stage.h"
#include "stages/send/arc_client.h"
#include "stages/send/file_sink.h"

namespace raregen::service {

using Json = nlohmann::ordered_json;

struct EngineConfig {
    // ---- intake ----
    // NDJSON intents (file, pipe, stdin); -1: none (queued rows only). The
    // caller owns the descriptor and the reject sink; both must outlive the
    // engine.
    int input_fd = -1;
    ingest::RejectSink* reject_sink = nullptr;  // one line per rejected intent (may be null)
    // A service's intake from other threads (the HTTP API), instead of a
    // file: service only, input_fd -1. Not owned; must outlive the engine.
    ingest::IntakeQueue* intake_queue = nullptr;
    std::chrono::seconds max_age{600};  // oldest record timestamp accepted
    std::uint64_t seed = 0;             // job ids; 0: random

    // ---- keys, signers, UTXOs ----
    std::optional<chain::PublicationKey> key;  // required
    // "PUBKEY_HEX [active|revoked]" lines: the registry itself with `memory`;
    // with a database, registered in registered_keys first (may be empty).
    std::string registered_file;
    // With `memory` the ring's whole content (may be empty: jobs then fail
    // no_utxo); with a database imported into the `utxos` table (purpose
    // publish) before the run leases from it.
    std::vector<chain::Utxo> utxos;
    // Outputs of the key to split (with a database): imported into `utxos`
    // as purpose 'funding' at start, for the replenisher.
    std::vector<chain::Utxo> funding;

    // ---- storage ----
    bool memory = false;        // no database at all
    std::string database_url;   // a secret, never logged; empty: a private PostgreSQL
    bool keep_db = false;       // keep the private cluster's directory
    bool adopt_legacy = false;  // take over what the stopped old RareGen service left
    // A batch run ends when its intake is done, and jobs beyond the UTXO pool
    // fail; a service (true) runs until stopped, and jobs wait for UTXOs.
    bool service = false;
    std::size_t ring_capacity = 4096;  // UTXOs held in memory (leased from the database)
    std::size_t flush_max = 8192;      // facts per write-behind transaction at most
    std::chrono::seconds lease{300};   // UTXO lease (renewed while running)
    // Only `utxos` rows of exactly this value are leased for publications
    // (larger ones are funding: never burnt as a publication's fee).
    std::int64_t publish_value = 100;
    // The UTXO replenisher (with a database and ARC): splits funding into
    // publish UTXOs of publish_value when the pool is under its floor.
    // nullopt: none runs (the pool is filled by hand).
    std::optional<ReplenishSettings> replenish = ReplenishSettings{};

    // ---- the graph ----
    chain::FeeRate fee_rate{100, 1000};
    bool change = false;
    std::size_t channel_capacity = 0;  // 0: 1024 in memory, 4096 with a database
    std::string batch_prefix;          // empty: the instance id (r<pid> in memory)
    std::chrono::milliseconds batch_window{5000};
    std::uint32_t max_batch_size = 500;
    std::uint32_t rate = 500;  // transactions per period through the gate
    std::chrono::milliseconds period{3000};
    bool no_gate = false;
    // With a database and ARC, `rate` per `period` is the limit of every
    // engine on the database together (service/rate/shared_rate.h), on top
    // of this engine's own gate. false: this engine's gate only.
    bool shared_rate = true;

    // ---- where transactions go: ARC, or a file ----
    std::optional<send::ArcSettings> arc;
    std::string out_path;  // without ARC ("-": stdout)
    send::TxEncoding encoding = send::TxEncoding::ef_hex;
    std::string callback_listen;  // HOST:PORT of the ARC callback endpoint (with ARC)
    std::chrono::milliseconds callback_wait{0};  // after the drain, wait for MINED callbacks

    // ---- operation ----
    bool handle_signals = true;                         // SIGINT/SIGTERM drain the engine
    std::chrono::milliseconds progress_interval{1000};  // 0: no progress lines
    std::string log_prefix = "raregen run";             // stderr lines "<prefix>: ..."
    std::function<void(std::string_view)> on_log;       // default: stderr
    // Called on the write-behind's thread each time the durable watermark
    // moves (the HTTP API wakes the requests waiting for it). May be empty.
    std::function<void()> on_durable;
};

// Why start() refused, or how a run ended badly. `usage`: a setting or input
// the operator can fix (the CLI exits 2); `internal`: anything else (exit 1).
struct EngineError {
    enum class Kind { none, usage, internal } kind = Kind::none;
    std::string message;
    explicit operator bool() const noexcept { return kind != Kind::none; }
    static EngineError usage(std::string m) { return {Kind::usage, std::move(m)}; }
    static EngineError internal(std::string m) { return {Kind::internal, std::move(m)}; }
};

// Live counters, for progress lines and health (any thread, while running).
struct EngineProgress {
    double seconds = 0;
    std::uint64_t read = 0, accepted = 0, rejected = 0, signed_count = 0, sent = 0;
    std::size_t utxos_in_ring = 0;
};

class Engine {
  public:
    explicit Engine(EngineConfig config);
    ~Engine();  // stops and winds down whatever still runs
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // The settings alone, checked without touching a file or a database (a
    // caller runs it before reading its inputs); start() checks them too.
    static EngineError check(const EngineConfig& config);
    // Assembles and starts everything. After an error nothing runs and the
    // engine can only be destroyed. Never throws. Once only.
    EngineError start();
    // Blocks until the run ends, then winds every part down in order.
    void wait();
    // Stops intake; wait() returns once every accepted job has drained.
    void request_stop() noexcept;

    EngineProgress progress() const;
    // After wait(): the run's JSON summary (intents, batches, transactions,
    // ARC, callbacks, UTXOs, write-behind, recovery, stages, ...).
    Json summary() const;
    // After wait(): the failure the run ended with (unreadable intake, a
    // failed output, ARC refusing every request, unresolved transactions,
    // facts that never became durable), or none.
    EngineError outcome() const;
    // After wait(): accepted jobs left unsigned for want of a UTXO.
    std::uint64_t unfunded() const;
    // The signal that stopped the run, or 0.
    int signal_received() const;

    // After start(), with a database: its connection string (a secret) and
    // this engine's instance id.
    const std::string& conninfo() const;
    const std::string& instance_id() const;

    // After start(): where facts go, for durable_through() and refused()
    // (any thread).
    const model::FactSink* facts() const;
    struct StorageHealth {
        bool healthy = true;
        std::uint64_t pending = 0;  // facts emitted, not yet durable
        std::string error;          // scrubbed; empty when healthy
    };
    // After start(), any thread: the write-behind's state (reads its stats:
    // for health reports, not per request).
    StorageHealth storage_health() const;
    // After start(), any thread: one atomic load (per request).
    bool storage_healthy() const noexcept;
    struct NetworkHealth {
        // ARC answered the latest requests (fewer than 3 in a row went
        // unanswered) and served its policy within 3 refresh periods.
        bool reachable = false;
        std::int64_t policy_age_ms = -1;  // -1: never read
        std::uint64_t unanswered_in_a_row = 0;
        chain::FeeRate fee_rate;  // in force: max(ARC's policy, the floor)
    };
    // After start(), any thread: ARC's state (none without ARC; a few atomic
    // loads, no request).
    std::optional<NetworkHealth> network_health() const;
    // After start(), any thread: the replenisher's state (none without one).
    std::optional<Replenisher::Health> replenisher_health() const;
    // After start(), any thread: the ingest stage's next lookup of `pubkey`
    // answers `status` (the operator endpoints call it once the database row
    // is written; the engine itself writes nothing).
    void set_signer(const ingest::CompressedPubkey& pubkey, ingest::SignerStatus status);

  private:
    struct Parts;
    EngineError start_parts();
    EngineConfig m_config;
    std::unique_ptr<Parts> m_parts;
};

}  // namespace raregen::service
