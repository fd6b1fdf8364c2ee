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

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "engine/chain/fees.h"
#include "engine/chain/publication.h"
#include "engine/flow/clock.h"
#include "engine/flow/signals.h"
#include "engine/model/facts.h"
#include "stages/ingest/ingest_stage.h"
#include "stages/ingest/intent.h"
#include "stages/ingest/nonce_store.h"
#include "stages/ingest/signer_registry.h"
#include "stages/ingest/wall_time.h"
#include "stages/pipeline/pipeline.h"
#include "stages/send/arc_answer.h"
#include "stages/send/arc_client.h"
#include "stages/send/file_sink.h"
#include "stages/sign/resigner.h"
#include "storage/callbacks/callback_receiver.h"
#include "storage/jobs/job_feeder.h"
#include "storage/jobs/job_store.h"
#include "storage/keys/nonces.h"
#include "storage/keys/signers.h"
#include "storage/pg/connection.h"
#include "storage/pg/embedded.h"
#include "storage/pg/migrations.h"
#include "storage/pool/pool_feeder.h"
#include "storage/pool/utxo_pool.h"
#include "storage/utxo/utxo_file.h"
#include "storage/utxo/utxo_ring.h"
#include "storage/writebehind/write_behind.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"
#include "tools/raregen/http.h"

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

// What the old RareGen service left unfinished (jobs/job_store.h explains
// the states). Without --adopt-legacy nothing is touched: a warning says what
// is there and how to take it over. With it: its processing_batch jobs are
// queued again (then claimed and published like any queued row), its
// sending jobs with a txid are looked up at ARC (known: sent), and the rest
// are listed for the operator, never published again by raregen.
// Returns an error message, empty on success; fills `report` (null if the
// old service left nothing).
std::string take_over_legacy(pg::Connection& db, const std::string& me, bool adopt,
                             const std::optional<send::ArcSettings>& arc, Json& report) {
    jobs::LegacyScan scan;
    if (!adopt) {
        if (pg::Status st = jobs::count_legacy(db, scan); !st.ok())
            return "reading the old service's unfinished jobs failed: " + st.message();
        if (scan.processing_batch == 0 && scan.sending.empty()) return {};
        std::fprintf(stderr,
                     "raregen run: warning: %llu jobs in processing_batch and %zu in sending "
                     "belong to no raregen engine: the old RareGen service's. They are left to "
                     "it. If it is stopped for good, run once with --adopt-legacy to publish "
                     "them (README: switching over).\n",
                     static_cast<unsigned long long>(scan.processing_batch), scan.sending.size());
        report["left_to_old_service"]["processing_batch"] = scan.processing_batch;
        report["left_to_old_service"]["sending"] = scan.sending.size();
        return {};
    }
    if (pg::Status st = jobs::requeue_legacy(db, me, scan); !st.ok())
        return "taking over the old service's batches failed: " + st.message();
    report["requeued_from_processing_batch"] = scan.requeued;
    std::uint64_t marked_sent = 0;
    Json unresolved = Json::array();
    for (const jobs::LegacyJob& j : scan.sending) {
        std::string why;
        if (j.txid.empty()) {
            why = "sending without a txid: it may be on chain under a txid nobody recorded";
        } else if (!arc) {
            why = "sending with a txid, and no ARC to look it up (give --arc-url)";
        } else {
            const HttpResponse r =
                arc_call(arc->url + "/v1/tx/" + j.txid, arc->api_key, {}, {}, 15'000);
            std::string status;
            if (http_ok(r)) {
                try {
                    status = Json::parse(r.body).value("txStatus", std::string());
                } catch (const std::exception&) {
                }
            }
            if (!status.empty() && send::arc_status_accepted(status)) {
                bool marked = false;
                if (pg::Status st = jobs::mark_legacy_sent(db, me, j, status, marked); !st.ok())
                    return "marking an old sending job sent failed: " + st.message();
                if (marked) {
                    ++marked_sent;
                    continue;
                }
                why = "changed while it was looked up";
            } else if (r.completed && r.status == 404) {
                why = "sending with a txid ARC does not know, and no stored transaction to resend";
            } else {
                why = "ARC gave no definite answer for its txid (" + http_problem(r) +
                      "): run again to look it up";
            }
        }
        Json u;
        u["job_id"] = j.job_id;
        u["record_id"] = j.record_id;
        if (!j.txid.empty()) u["txid"] = j.txid;
        if (!j.sending_started_at.empty()) u["sending_started_at"] = j.sending_started_at;
        u["why"] = why;
        unresolved.push_back(std::move(u));
    }
    report["sending_found_at_arc"] = marked_sent;
    report["unresolved"] = unresolved;
    std::fprintf(stderr,
                 "raregen run: took over the old service's work: %llu jobs queued again from "
                 "processing_batch, %llu sending jobs found at ARC (sent), %zu left for you to "
                 "decide (see \"legacy\" in the summary; README: switching over)\n",
                 static_cast<unsigned long long>(scan.requeued),
                 static_cast<unsigned long long>(marked_sent), unresolved.size());
    return {};
}

// Registers the keys of a signer file ("PUBKEY_HEX [active|revoked]" lines)
// in registered_keys. Returns an error message, empty on success.
std::string register_signer_file(pg::Connection& conn, const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return "--registered " + path + ": " + std::strerror(errno);
    char line[1024];
    int n = 0;
    std::string error;
    while (error.empty() && std::fgets(line, sizeof line, f) != nullptr) {
        ++n;
        char key[200] = {}, status[32] = {};
        const int got = std::sscanf(line, "%199s %31s", key, status);
        if (got < 1 || key[0] == '#') continue;
        std::string why;
        const auto pub = keys::parse_compressed_pubkey(key, &why);
        if (!pub) {
            error = path + ":" + std::to_string(n) + ": " + why;
            break;
        }
        if (got == 2 && std::string(status) != "active") {
            // Known but inactive, as in the file: a key the table does not
            // have yet is registered, then revoked.
            keys::RevokeResult r = keys::revoke_signer(conn, *pub);
            if (!r.ok() && r.outcome == keys::RevokeOutcome::not_registered) {
                const keys::RegisterResult reg = keys::register_signer(conn, *pub);
                if (!reg.ok()) {
                    error = reg.status.message();
                    break;
                }
                r = keys::revoke_signer(conn, *pub);
            }
            if (!r.ok()) error = r.status.message();
            continue;
        }
        const keys::RegisterResult r = keys::register_signer(conn, *pub);
        if (!r.ok()) error = r.status.message();
    }
    std::fclose(f);
    return error;
}

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

Json counters_json(const flow::CountersSnapshot& c) {
    Json j;
    j["in"] = c.items_in;
    j["out"] = c.items_out;
    j["rejected"] = c.rejected;
    j["blocked"] = c.blocked_count;
    j["busy_ms"] = static_cast<double>(c.busy_ns) / 1e6;
    j["queue_depth"] = c.queue_depth;
    return j;
}

int run_pipeline(const RunOptions& o) {
    // ---- inputs, each checked before anything runs ----
    auto secret = read_secret_file(o.key_file);
    if (!secret) return usage_error(secret.error);
    const chain::WifResult wif = chain::decode_wif(secret.value->view());
    if (!wif.key)
        return usage_error("--key-file " + o.key_file + ": " +
                           std::string(chain::wif_error_message(wif.error)));
    const chain::PublicationKey key(wif.key->key, wif.key->compressed);
    // Flags first: a typo must not wait for a database to start.
    const auto fee = chain::parse_fee_rate(o.fee_rate);
    if (!fee)
        return usage_error("--fee-rate must be SATS/BYTES (e.g. 100/1000) with BYTES > 0, got '" +
                           o.fee_rate + "'");
    if (o.encoding != "ef" && o.encoding != "raw")
        return usage_error("--encoding must be 'ef' or 'raw', got '" + o.encoding + "'");
    if (o.rate == 0 || o.period_ms == 0)
        return usage_error("--rate and --period-ms must be at least 1");
    if (o.batch_size == 0 || o.window_ms == 0)
        return usage_error("--batch-size and --window-ms must be at least 1");
    if (!o.memory && o.ring_capacity == 0) return usage_error("--ring must be at least 1");
    std::string arc_url = o.arc_url;
    if (arc_url.empty())
        if (const char* e = std::getenv("ARC_URL"); e != nullptr) arc_url = e;
    if (!arc_url.empty() && !o.out.empty())
        return usage_error(
            "give --out (a file of transactions) or an ARC to send to (--arc-url / "
            "ARC_URL), not both");
    if (arc_url.empty() && o.out.empty())
        return usage_error(
            "where should the transactions go? Give --out FILE, or --arc-url URL "
            "(or ARC_URL) to broadcast them to ARC");
    std::optional<send::ArcSettings> arc_settings;
    if (!arc_url.empty()) {
        send::ArcSettings& as = arc_settings.emplace();
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
        if (!o.callback_listen.empty() && (o.memory || as.callback_token.empty()))
            return usage_error(
                "--callback-listen needs a database (not --memory) and "
                "--callback-token-file (the token ARC must send back)");
        try {
            send::ArcClient check(as);  // the settings, checked before a database starts
        } catch (const std::invalid_argument& e) {
            return usage_error(e.what());
        }
    }

    // ---- the database (unless --memory) ----
    std::optional<pg::EmbeddedPostgres> embedded;
    std::string conninfo;
    std::optional<pg::Connection> db;
    if (!o.memory) {
        if (const char* url = std::getenv("DATABASE_URL"); url != nullptr && *url != '\0') {
            conninfo = url;
        } else {
            pg::EmbeddedOptions eo;
            eo.keep = o.keep_db;
            try {
                embedded.emplace(eo);
            } catch (const std::exception& e) {
                return internal_error(std::string("no DATABASE_URL, and the private PostgreSQL "
                                                  "could not start: ") +
                                      e.what());
            }
            conninfo = embedded->conninfo();
            std::fprintf(stderr,
                         "raregen run: no DATABASE_URL: a private PostgreSQL runs in %s (%s on "
                         "exit)\n",
                         embedded->directory().c_str(), o.keep_db ? "kept" : "removed");
        }
        try {
            db.emplace(pg::Connection::connect(conninfo));
        } catch (const std::exception& e) {
            return usage_error(std::string("DATABASE_URL: ") + e.what());
        }
        if (pg::Status st = pg::migrate(*db); !st.ok())
            return internal_error("migrating the database failed: " + st.message());
    }

    ingest::InMemorySignerRegistry signers;
    if (o.memory) {
        if (o.registered.empty()) return usage_error("--registered is required with --memory");
        auto loaded = ingest::InMemorySignerRegistry::load_file(o.registered);
        if (!loaded) return usage_error(loaded.error);
        signers = std::move(*loaded.registry);
    } else {
        if (!o.registered.empty()) {
            auto check = ingest::InMemorySignerRegistry::load_file(o.registered);
            if (!check) return usage_error(check.error);
            if (std::string e = register_signer_file(*db, o.registered); !e.empty())
                return usage_error("--registered: " + e);
        }
        const keys::SignerLoad sl = keys::load_signers(*db, signers);
        if (!sl.ok()) return internal_error("loading registered_keys failed: " + sl.error);
    }

    utxo::UtxoFileResult utxos;
    if (!o.utxos.empty()) {
        utxos = utxo::load_utxo_file(o.utxos);
        if (!utxos.ok()) return usage_error(utxos.describe(o.utxos));
    } else if (o.memory) {
        return usage_error("--utxos is required with --memory");
    }
    std::optional<utxo::UtxoRing> ring;
    if (o.memory) {
        ring.emplace(std::max<std::size_t>(utxos.utxos.size(), 1));
        if (ring->try_push_bulk(utxos.utxos) != utxos.utxos.size())
            return internal_error("the UTXO ring refused outpoints it has room for");
        ring->close();  // the file is all there is: jobs beyond it fail instead of waiting
    } else {
        if (!utxos.utxos.empty()) {
            std::vector<pool::ImportUtxo> rows;
            rows.reserve(utxos.utxos.size());
            for (const chain::Utxo& u : utxos.utxos)
                rows.push_back(pool::ImportUtxo{u, std::nullopt, std::nullopt});
            const auto imported = pool::import_utxos(*db, rows, pool::Purpose::publish);
            if (!imported.ok())
                return internal_error("importing --utxos failed: " + imported.status.message());
        }
        ring.emplace(o.ring_capacity);
    }

    int fd = 0;
    if (o.intents != "-") {
        fd = ::open(o.intents.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return usage_error("--intents " + o.intents + ": " + std::strerror(errno));
    }
    std::FILE* reject_file = nullptr;
    std::optional<ingest::JsonLinesRejectWriter> reject_writer;
    if (!o.rejects.empty()) {
        reject_file = std::fopen(o.rejects.c_str(), "w");
        if (reject_file == nullptr)
            return usage_error("--rejects " + o.rejects + ": " + std::strerror(errno));
        reject_writer.emplace(reject_file);
    }

    // ---- ARC callbacks (a database is up by now), then the client ----
    std::optional<callbacks::CallbackReceiver> receiver;
    auto early_log = [](std::string_view m) {
        std::fprintf(stderr, "raregen run: %.*s\n", static_cast<int>(m.size()), m.data());
    };
    if (arc_settings && !o.callback_listen.empty()) {
        callbacks::CallbackReceiverOptions co;
        const std::size_t colon = o.callback_listen.rfind(':');
        const std::string port_text =
            colon == std::string::npos ? std::string() : o.callback_listen.substr(colon + 1);
        char* end = nullptr;
        const long port = std::strtol(port_text.c_str(), &end, 10);
        if (colon == 0 || port_text.empty() || *end != '\0' || port < 0 || port > 65535)
            return usage_error(
                "--callback-listen must be HOST:PORT (PORT 0..65535, 0: any free "
                "port), e.g. 127.0.0.1:0, got '" +
                o.callback_listen + "'");
        co.host = o.callback_listen.substr(0, colon);
        co.port = static_cast<int>(port);
        co.token = arc_settings->callback_token;
        co.conninfo = conninfo;
        co.on_log = early_log;
        receiver.emplace(std::move(co));
        if (std::string e = receiver->start(); !e.empty())
            return usage_error("--callback-listen: " + e);
        // The receiver's own address, unless --callback-url names the
        // public one (a proxy in front).
        if (arc_settings->callback_url.empty()) arc_settings->callback_url = receiver->url();
        std::fprintf(stderr, "raregen run: ARC callbacks at %s\n", receiver->url().c_str());
    }
    std::optional<send::ArcClient> arc;
    if (arc_settings) arc.emplace(*arc_settings);

    std::optional<send::FileSink> sink;
    if (!arc) {
        try {
            sink.emplace(o.out,
                         o.encoding == "ef" ? send::TxEncoding::ef_hex : send::TxEncoding::raw_hex,
                         o.memory ? send::FileSinkMode::truncate_buffered
                                  : send::FileSinkMode::append_write_through);
        } catch (const std::exception& e) {
            return usage_error(std::string("--out: ") + e.what());
        }
    }

    // ---- this engine's identity, and what dead ones left ----
    Json legacy_report;
    std::optional<jobs::InstanceLease> instance;
    std::string instance_id = "memory";
    if (!o.memory) {
        try {
            instance.emplace(conninfo, jobs::new_instance_id());
        } catch (const std::exception& e) {
            return internal_error(e.what());
        }
        instance_id = instance->id();
        // UTXOs leased by engines that died go back to the pool before this
        // one leases (their jobs are adopted by the job feeder below).
        std::vector<std::string> dead;
        if (pg::Status st = jobs::find_dead_instances(*db, instance_id, dead); !st.ok())
            return internal_error("looking for dead engines failed: " + st.message());
        for (const std::string& d : dead) {
            const auto r = pool::reclaim_utxos(*db, d);
            if (!r.ok())
                return internal_error("reclaiming UTXO leases failed: " + r.status.message());
        }
        if (const auto r = pool::reclaim_expired(*db); !r.ok())
            return internal_error("reclaiming expired UTXO leases failed: " + r.status.message());
        if (std::string e =
                take_over_legacy(*db, instance_id, o.adopt_legacy, arc_settings, legacy_report);
            !e.empty())
            return internal_error(e);
    }

    // ---- the graph ----
    flow::SteadyClock clock;
    pipeline::PipelineConfig config;
    // With a database, the jobs waiting at the fence for their flush sit in
    // the sign -> gate channel: a deeper one lets the next flush gather more
    // while one commits (perf/durable.sh: ~1.6x over 1024 on 2 cores).
    config.channel_capacity =
        o.channel_capacity != 0 ? o.channel_capacity : (o.memory ? 1024 : 4096);
    config.batch_prefix = !o.batch_prefix.empty() ? o.batch_prefix
                          : o.memory              ? "r" + std::to_string(::getpid())
                                                  : instance_id;
    config.batch_window = std::chrono::milliseconds(o.window_ms);
    config.max_batch_size = o.batch_size;
    config.gate.capacity = o.no_gate ? gate::k_max_capacity : o.rate;
    config.gate.period = o.no_gate
                             ? std::chrono::nanoseconds(1)
                             : std::chrono::nanoseconds(std::chrono::milliseconds(o.period_ms));
    config.sign.publication.change = o.change;
    config.sign.publication.fee_rate = *fee;
    config.sign.extended = true;
    if (arc) {
        // ARC's policy, read by the client at start and refreshed: the sign
        // stage follows it (never below --fee-rate).
        config.sign.live_fee_rate = [&arc] { return arc->fee_rate(); };
    }
    config.ingest.seed = o.seed != 0 ? o.seed : ingest::random_seed();
    config.ingest.wall_offset = ingest::wall_clock_offset(clock);
    config.ingest.validator.max_age = std::chrono::seconds(o.max_age_s);
    config.ingest.reject_sink = reject_writer ? &*reject_writer : nullptr;
    config.external_inputs = !o.memory;

    ingest::InMemoryNonceStore nonces(
        ingest::InMemoryNonceStore::k_default_capacity,
        config.ingest.validator.max_age + config.ingest.validator.max_future);
    if (!o.memory) {
        const keys::NonceLoad nl = keys::load_recent_nonces(*db, nonces, nonces.retention());
        if (!nl.ok()) return internal_error("loading recent nonces failed: " + nl.error);
    }

    // Set once the pipeline exists: the write-behind and the feeders wake it.
    std::atomic<flow::Runner*> runner{nullptr};
    auto wake = [&runner] {
        if (flow::Runner* r = runner.load(std::memory_order_acquire)) r->wake();
    };
    auto log_line = [](std::string_view m) {
        std::fprintf(stderr, "raregen run: %.*s\n", static_cast<int>(m.size()), m.data());
    };
    model::CountingFactSink counting_facts;
    std::optional<writebehind::WriteBehind> wb;
    if (!o.memory) {
        writebehind::WriteBehindOptions wo;
        wo.conninfo = conninfo;
        wo.instance_id = instance_id;
        wo.batch_prefix = config.batch_prefix;
        wo.max_flush = static_cast<std::size_t>(o.flush_max);
        wo.on_durable = wake;
        wo.on_log = log_line;
        wb.emplace(std::move(wo));
    }

    pipeline::PipelineParts parts;
    parts.input_fd = fd;
    parts.nonces = &nonces;
    parts.signers = &signers;
    parts.ring = &*ring;
    parts.key = &key;
    std::optional<sign::Resigner> resigner;
    if (arc) {
        resigner.emplace(key, config.sign.publication);
        parts.arc = &*arc;
        parts.resigner = &*resigner;
    } else {
        parts.sink = &*sink;
    }
    parts.facts = wb ? static_cast<model::FactSink*>(&*wb) : &counting_facts;
    parts.clock = &clock;

    std::optional<pipeline::Pipeline> pipe;
    try {
        pipe.emplace(config, parts);
    } catch (const std::invalid_argument& e) {
        return usage_error(e.what());
    }
    runner.store(&pipe->runner(), std::memory_order_release);
    if (arc) {
        // Before any storage thread: a wrong URL or key stops here, with
        // nothing to undo.
        if (std::string e = arc->start(&pipe->runner().context()); !e.empty()) {
            runner.store(nullptr, std::memory_order_release);
            return usage_error(e);
        }
        std::fprintf(stderr, "raregen run: sending to ARC at %s (fee rate %s)\n",
                     arc->settings().url.c_str(), arc->fee_rate().to_string().c_str());
    }
    auto sent_count = [&pipe]() -> std::uint64_t {
        if (const auto* s = pipe->send()) return s->sent();
        return pipe->network_send()->sent();
    };

    std::optional<pool::PoolFeeder> pool_feeder;
    std::optional<jobs::JobFeeder> job_feeder;
    if (!o.memory) {
        pool::PoolFeederOptions po;
        po.instance_id = instance_id;
        po.lease_duration = std::chrono::seconds(o.lease_s);
        po.close_when_empty = true;  // a batch run: jobs beyond the pool fail, they do not wait
        po.on_refill = wake;
        pool_feeder.emplace(conninfo, *ring, po);

        jobs::JobFeederOptions jo;
        jo.conninfo = conninfo;
        jo.instance_id = instance_id;
        jo.input_done = [&pipe] { return pipe->ingest().input_finished(); };
        jo.on_dead_instance = [](pg::Connection& c, const std::string& dead) {
            (void)pool::reclaim_utxos(c, dead);
        };
        jo.on_log = log_line;
        auto in = pipe->take_external_inputs();
        job_feeder.emplace(std::move(jo), std::move(in.to_sequence), std::move(in.to_sign),
                           std::move(in.to_gate), pipe->runner().context());
        try {
            wb->start();
            pool_feeder->start();
            job_feeder->start();
        } catch (const std::exception& e) {
            // Nothing ran yet: stop what started before the pipeline (which
            // the write-behind would wake) goes away.
            runner.store(nullptr, std::memory_order_release);
            pool_feeder->stop();
            wb->stop(std::chrono::milliseconds(0));
            return internal_error(std::string("starting the storage threads failed: ") + e.what());
        }
    }

    // ---- run, with progress on stderr ----
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<flow::SignalDrain> drain;
    drain.emplace(pipe->runner());
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread progress([&] {
        if (o.progress_s <= 0) return;
        std::unique_lock lock(mu);
        std::uint64_t last_sent = 0;
        auto last_t = std::chrono::steady_clock::now();
        while (
            !cv.wait_for(lock, std::chrono::duration<double>(o.progress_s), [&] { return done; })) {
            const auto now = std::chrono::steady_clock::now();
            const std::uint64_t sent = sent_count();
            const double dt = std::chrono::duration<double>(now - last_t).count();
            std::fprintf(
                stderr,
                "raregen run: %.1fs read %llu accepted %llu rejected %llu signed %llu sent %llu "
                "(%.0f tx/s) utxos left %zu\n",
                std::chrono::duration<double>(now - t0).count(),
                static_cast<unsigned long long>(pipe->ingest().lines_read()),
                static_cast<unsigned long long>(pipe->ingest().accepted()),
                static_cast<unsigned long long>(pipe->ingest().counters().rejected()),
                static_cast<unsigned long long>(pipe->sign().signed_count()),
                static_cast<unsigned long long>(sent),
                dt > 0 ? static_cast<double>(sent - last_sent) / dt : 0.0, ring->depth());
            last_sent = sent;
            last_t = now;
        }
    });
    pipe->run();
    if (arc) arc->stop();
    if (receiver && o.callback_wait_s > 0 && pipe->network_send()->sent() > 0) {
        // Blocks are mined after the last send: wait (bounded) until ARC has
        // confirmed every transaction sent, so the database says confirmed.
        const auto until =
            std::chrono::steady_clock::now() + std::chrono::duration<double>(o.callback_wait_s);
        while (receiver->stats().confirmed < pipe->network_send()->sent() &&
               std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (receiver) receiver->stop();
    // Storage winds down after the stages: the job feeder has closed its
    // inputs (or the pipeline could not have finished), the ring's consumer
    // is gone so the pool feeder can return what is left in it, and the
    // write-behind flushes every fact before the run reports.
    bool all_durable = true;
    pool::FeederStopReport pool_report;
    if (!o.memory) {
        job_feeder->join();
        pool_report = pool_feeder->stop();
        all_durable = wb->stop();
    }
    {
        std::lock_guard lock(mu);
        done = true;
    }
    cv.notify_all();
    progress.join();
    const int signal = drain->signal_received();
    drain.reset();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (fd > 0) ::close(fd);
    if (reject_file != nullptr) std::fclose(reject_file);

    // ---- summary ----
    Json summary;
    const auto& in = pipe->ingest();
    summary["intents"]["read"] = in.lines_read();
    summary["intents"]["accepted"] = in.accepted();
    Json by_reason = Json::object();
    std::uint64_t rejected = 0;
    for (std::size_t r = 0; r < ingest::k_reject_reasons; ++r) {
        const auto reason = static_cast<ingest::RejectReason>(r);
        if (const std::uint64_t n = in.rejected(reason); n > 0) {
            by_reason[std::string(ingest::reject_reason_name(reason))] = n;
            rejected += n;
        }
    }
    summary["intents"]["rejected"] = rejected;
    summary["intents"]["rejected_by_reason"] = by_reason;
    summary["batches"] = pipe->sequence().batches_closed();
    summary["transactions"]["signed"] = pipe->sign().signed_count();
    summary["transactions"]["sign_failed"] = pipe->sign().failed();
    summary["transactions"]["no_utxo"] = pipe->sign().unfunded();
    if (const auto* s = pipe->send()) {
        summary["transactions"]["written"] = s->sent();
        summary["transactions"]["write_failed"] = s->failed();
    } else {
        const send::NetworkSendStage& ns = *pipe->network_send();
        summary["transactions"]["sent"] = ns.sent();
        summary["transactions"]["network_failed"] = ns.failed();
        summary["transactions"]["resigned_after_fee_refusal"] = ns.resigned();
        summary["transactions"]["unresolved"] = ns.unresolved();
        summary["latency_ms"]["intake_to_sent_p50"] =
            static_cast<double>(ns.latency().quantile(0.50).count()) / 1000.0;
        summary["latency_ms"]["intake_to_sent_p99"] =
            static_cast<double>(ns.latency().quantile(0.99).count()) / 1000.0;
        const send::ArcStats as = arc->stats();
        Json a;
        a["url"] = arc->settings().url;
        a["requests"] = as.requests;
        a["txs_posted"] = as.txs_posted;
        a["retries"] = as.retries;
        a["timeouts"] = as.timeouts;
        a["transport_errors"] = as.transport_errors;
        a["http_5xx"] = as.http_5xx;
        a["http_4xx"] = as.http_4xx;
        a["request_refusals"] = as.request_refusals;
        if (std::string f = arc->fatal_error(); !f.empty()) a["stopped_the_run"] = f;
        a["auth_errors"] = as.auth_errors;
        a["missing_entries"] = as.missing_entries;
        a["fee_too_low"] = as.fee_too_low;
        a["policy_reads"] = as.policy_reads;
        a["status_checks"] = as.status_checks;
        a["fee_rate"] = arc->fee_rate().to_string();
        a["request_ms_p50"] = static_cast<double>(as.latency_p50_us) / 1000.0;
        a["request_ms_p99"] = static_cast<double>(as.latency_p99_us) / 1000.0;
        summary["arc"] = a;
        if (receiver) {
            const callbacks::CallbackStats cs = receiver->stats();
            Json cb;
            cb["url"] = receiver->url();
            cb["requests"] = cs.requests;
            cb["callbacks"] = cs.callbacks;
            cb["confirmed"] = cs.confirmed;
            cb["other_statuses_recorded"] = cs.recorded;
            cb["unknown_txids"] = cs.unknown_txids;
            cb["unauthorized"] = cs.unauthorized;
            cb["database_errors"] = cs.database_errors;
            summary["callbacks"] = cb;
        }
    }
    summary["utxos"]["loaded"] = utxos.utxos.size();
    if (!o.memory) {
        summary["utxos"]["leased"] = pool_feeder->leased();
        summary["utxos"]["returned_to_pool"] = pool_report.released;
        const writebehind::WriteBehindStats ws = wb->stats();
        Json w;
        w["facts"] = ws.emitted;
        w["durable"] = ws.durable;
        w["commits"] = ws.commits;
        w["rows_per_flush"] = ws.rows_per_flush_mean;
        w["flush_ms_p50"] = ws.flush_ms_p50;
        w["flush_ms_p99"] = ws.flush_ms_p99;
        w["refused"] = ws.refused;
        w["skipped"] = ws.skipped;
        w["retries"] = ws.retries;
        w["healthy"] = ws.healthy;
        summary["write_behind"] = w;
        const jobs::JobFeederStats js = job_feeder->stats();
        Json r;
        r["resumed_to_gate"] = js.resumed_to_gate;
        r["resumed_to_sign"] = js.resumed_to_sign;
        r["resumed_to_sequence"] = js.resumed_to_sequence;
        r["claimed"] = js.claimed;
        r["dead_instances_adopted"] = js.instances_adopted;
        summary["recovery"] = r;
        if (!legacy_report.is_null()) summary["legacy"] = legacy_report;
        summary["instance"] = instance_id;
        summary["database"] = embedded ? std::string("embedded (private, ") +
                                             (o.keep_db ? "kept in " + embedded->directory()
                                                        : std::string("removed on exit")) +
                                             ")"
                                       : pg::describe_target(conninfo);
        summary["transactions"]["refused_by_storage"] = pipe->gate().refused();
    } else {
        summary["utxos"]["left"] = ring->depth();
    }
    summary["seconds"] = seconds;
    summary["tx_per_second"] = seconds > 0 ? static_cast<double>(sent_count()) / seconds : 0.0;
    Json stages = Json::object();
    for (const auto& s : pipe->report())
        stages[s.name] = counters_json(s.counters);
    summary["stages"] = stages;
    if (signal != 0) summary["stopped_by_signal"] = signal;
    if (in.input_error() != 0) summary["input_error"] = std::strerror(in.input_error());
    if (!o.out.empty()) summary["out"] = o.out;

    const int printed = print_json(summary);
    if (in.input_error() != 0)
        return internal_error(std::string("reading intents failed: ") +
                              std::strerror(in.input_error()));
    if (pipe->send() != nullptr && pipe->send()->flush_failed())
        return internal_error("writing " + o.out + " failed");
    if (arc)
        if (std::string f = arc->fatal_error(); !f.empty()) return usage_error(f);
    if (pipe->network_send() != nullptr && pipe->network_send()->unresolved() > 0)
        return internal_error(
            std::to_string(pipe->network_send()->unresolved()) +
            " transactions got no definite answer from ARC (timeouts, errors or a refused API "
            "key; see the summary's arc counters). They stay 'sending' in the database; the next "
            "run looks each up at ARC (GET /v1/tx) and sends the same bytes only if ARC does not "
            "have it");
    if (!all_durable)
        return internal_error(
            "the database stayed unreachable: some facts are not durable (the jobs they belong "
            "to resume at the next start)");
    if (pipe->sign().unfunded() > 0)
        warn("ran out of UTXOs: " + std::to_string(pipe->sign().unfunded()) +
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
