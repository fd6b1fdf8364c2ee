#include "service/engine/engine.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "engine/flow/clock.h"
#include "engine/flow/signals.h"
#include "engine/model/facts.h"
#include "engine/model/nonce_store.h"
#include "engine/model/signer_registry.h"
#include "engine/model/utxo_ring.h"
#include "engine/model/wall_time.h"
#include "service/engine/legacy.h"
#include "stages/ingest/intent.h"
#include "stages/pipeline/pipeline.h"
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
#include "storage/writebehind/write_behind.h"

namespace raregen::service {

// Every part of a running engine. Members are destroyed in reverse order:
// the storage threads, then the graph, then the write-behind, clients and
// instance lease, the database last.
struct Engine::Parts {
    struct OwnedFd {
        int fd = -1;
        ~OwnedFd() {
            if (fd >= 0) ::close(fd);
        }
    };
    std::function<void(std::string_view)> log;
    OwnedFd no_intake;  // /dev/null, when the config names no intake
    std::optional<pg::EmbeddedPostgres> embedded;
    std::string conninfo;
    std::optional<pg::Connection> db;
    ingest::LiveSignerRegistry signers;
    std::optional<utxo::UtxoRing> ring;
    std::optional<callbacks::CallbackReceiver> receiver;
    std::optional<send::ArcClient> arc;
    std::optional<send::FileSink> sink;
    Json legacy_report;
    std::optional<jobs::InstanceLease> instance;
    std::string instance_id = "memory";
    flow::SteadyClock clock;
    pipeline::PipelineConfig config;
    std::optional<ingest::InMemoryNonceStore> nonces;
    // Set once the pipeline exists: the write-behind and the feeders wake it.
    std::atomic<flow::Runner*> runner{nullptr};
    model::CountingFactSink counting_facts;
    std::optional<writebehind::WriteBehind> wb;
    std::optional<sign::Resigner> resigner;
    std::optional<pipeline::Pipeline> pipe;
    std::optional<pool::PoolFeeder> pool_feeder;
    std::optional<Replenisher> replenisher;
    gate::SharedAllowance shared_allowance;
    std::optional<SharedRate> shared_rate;
    std::optional<jobs::JobFeeder> job_feeder;
    std::optional<flow::SignalDrain> drain;

    // For request_stop() and progress() from any thread: the pipeline once
    // it runs (t0 is set before it is published), and a stop asked for early.
    std::atomic<pipeline::Pipeline*> running{nullptr};
    std::atomic<bool> stop_requested{false};
    bool start_called = false;

    // Running state.
    std::chrono::steady_clock::time_point t0;
    std::thread progress;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    bool started = false;
    bool waited = false;
    double seconds = 0;
    int signal = 0;
    bool all_durable = true;
    pool::FeederStopReport pool_report;

    void wake() {
        if (flow::Runner* r = runner.load(std::memory_order_acquire)) r->wake();
    }
    std::uint64_t sent() const {
        if (const auto* s = pipe->send()) return s->sent();
        return pipe->network_send()->sent();
    }
};

namespace {

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

// HOST:PORT with PORT 0..65535; false if it is not that.
bool split_listen(const std::string& text, std::string& host, int& port) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    const std::string port_text = text.substr(colon + 1);
    char* end = nullptr;
    const long p = std::strtol(port_text.c_str(), &end, 10);
    if (port_text.empty() || *end != '\0' || p < 0 || p > 65535) return false;
    host = text.substr(0, colon);
    port = static_cast<int>(p);
    return true;
}

}  // namespace

Engine::Engine(EngineConfig config) : m_config(std::move(config)), m_parts(new Parts) {
    if (m_config.on_log) {
        m_parts->log = m_config.on_log;
    } else {
        m_parts->log = [prefix = m_config.log_prefix](std::string_view m) {
            std::fprintf(stderr, "%s: %.*s\n", prefix.c_str(), static_cast<int>(m.size()),
                         m.data());
        };
    }
}

Engine::~Engine() {
    if (m_parts->started && !m_parts->waited) {
        request_stop();
        wait();
    }
}

EngineError Engine::check(const EngineConfig& o) {
    using E = EngineError;
    if (!o.key) return E::usage("a publication key is required");
    if (o.fee_rate.bytes == 0) return E::usage("the fee rate's BYTES must be above 0");
    if (o.rate == 0 || o.period.count() <= 0)
        return E::usage("--rate and --period-ms must be at least 1");
    if (o.max_batch_size == 0 || o.batch_window.count() <= 0)
        return E::usage("--batch-size and --window-ms must be at least 1");
    if (!o.memory && o.ring_capacity == 0) return E::usage("--ring must be at least 1");
    if (o.arc && !o.out_path.empty())
        return E::usage(
            "give --out (a file of transactions) or an ARC to send to (--arc-url / ARC_URL), "
            "not both");
    if (!o.arc && o.out_path.empty())
        return E::usage(
            "where should the transactions go? Give --out FILE, or --arc-url URL (or ARC_URL) "
            "to broadcast them to ARC");
    if (o.memory && o.service) return E::usage("a service needs a database (not --memory)");
    if (o.intake_queue != nullptr && (!o.service || o.input_fd >= 0))
        return E::usage("an intake queue is a service's intake (service, and no input file)");
    if (o.memory && o.registered_file.empty())
        return E::usage("--registered is required with --memory");
    if (o.arc && !o.callback_listen.empty() && (o.memory || o.arc->callback_token.empty()))
        return E::usage(
            "--callback-listen needs a database (not --memory) and --callback-token-file (the "
            "token ARC must send back)");
    return {};
}

EngineError Engine::start() {
    Parts& p = *m_parts;
    if (p.start_called) return EngineError::usage("Engine::start() called twice");
    p.start_called = true;
    EngineError e;
    try {
        e = start_parts();
    } catch (const std::exception& ex) {
        e = EngineError::internal(std::string("starting the engine failed: ") + ex.what());
    }
    if (e && !p.started) {
        // Nothing runs: stop what did start, before the parts go away.
        p.runner.store(nullptr, std::memory_order_release);
        if (p.shared_rate) p.shared_rate->stop();
        if (p.arc) p.arc->stop();
        if (p.receiver) p.receiver->stop();
    }
    return e;
}

EngineError Engine::start_parts() {
    const EngineConfig& o = m_config;
    Parts& p = *m_parts;
    using E = EngineError;

    // ---- settings, each checked before anything starts ----
    if (EngineError e = check(o); e) return e;
    std::optional<send::ArcSettings> arc_settings = o.arc;
    std::string listen_host;
    int listen_port = 0;
    if (arc_settings) {
        if (!o.callback_listen.empty() &&
            !split_listen(o.callback_listen, listen_host, listen_port))
            return E::usage(
                "--callback-listen must be HOST:PORT (PORT 0..65535, 0: any free port), e.g. "
                "127.0.0.1:0, got '" +
                o.callback_listen + "'");
        try {
            send::ArcClient check_settings(*arc_settings);  // before a database starts
        } catch (const std::invalid_argument& e) {
            return E::usage(e.what());
        }
    }

    // ---- the database (unless in memory) ----
    if (!o.memory) {
        if (!o.database_url.empty()) {
            p.conninfo = o.database_url;
        } else {
            pg::EmbeddedOptions eo;
            eo.keep = o.keep_db;
            try {
                p.embedded.emplace(eo);
            } catch (const std::exception& e) {
                return E::internal(
                    std::string("no DATABASE_URL, and the private PostgreSQL could not start: ") +
                    e.what());
            }
            p.conninfo = p.embedded->conninfo();
            p.log("no DATABASE_URL: a private PostgreSQL runs in " + p.embedded->directory() +
                  " (" + (o.keep_db ? "kept" : "removed") + " on exit)");
        }
        try {
            p.db.emplace(pg::Connection::connect(p.conninfo));
        } catch (const std::exception& e) {
            return E::usage(std::string("DATABASE_URL: ") + e.what());
        }
        if (pg::Status st = pg::migrate(*p.db); !st.ok())
            return E::internal("migrating the database failed: " + st.message());
    }

    // ---- signers ----
    if (!o.registered_file.empty()) {
        auto loaded = ingest::InMemorySignerRegistry::load_file(o.registered_file);
        if (!loaded) return E::usage(loaded.error);
        if (o.memory) {
            p.signers.loading() = std::move(*loaded.registry);
        } else if (std::string e = keys::register_signer_file(*p.db, o.registered_file);
                   !e.empty()) {
            return E::usage("--registered: " + e);
        }
    }
    if (!o.memory) {
        const keys::SignerLoad sl = keys::load_signers(*p.db, p.signers.loading());
        if (!sl.ok()) return E::internal("loading registered_keys failed: " + sl.error);
    }

    // ---- UTXOs ----
    if (o.memory) {
        p.ring.emplace(std::max<std::size_t>(o.utxos.size(), 1));
        if (p.ring->try_push_bulk(o.utxos) != o.utxos.size())
            return E::internal("the UTXO ring refused outpoints it has room for");
        p.ring->close();  // the file is all there is: jobs beyond it fail instead of waiting
    } else {
        if (!o.utxos.empty()) {
            std::vector<pool::ImportUtxo> rows;
            rows.reserve(o.utxos.size());
            for (const chain::Utxo& u : o.utxos)
                rows.push_back(pool::ImportUtxo{u, std::nullopt, std::nullopt});
            const auto imported = pool::import_utxos(*p.db, rows, pool::Purpose::publish);
            if (!imported.ok())
                return E::internal("importing --utxos failed: " + imported.status.message());
        }
        if (!o.funding.empty()) {
            std::vector<pool::ImportUtxo> rows;
            for (const chain::Utxo& u : o.funding)
                rows.push_back(pool::ImportUtxo{u, std::nullopt, std::nullopt});
            const auto imported = pool::import_utxos(*p.db, rows, pool::Purpose::funding);
            if (!imported.ok())
                return E::internal("importing --funding failed: " + imported.status.message());
        }
        p.ring.emplace(o.ring_capacity);
    }

    // ---- ARC callbacks (a database is up by now), then the client or the sink ----
    if (arc_settings && !o.callback_listen.empty()) {
        callbacks::CallbackReceiverOptions co;
        co.host = listen_host;
        co.port = listen_port;
        co.token = arc_settings->callback_token;
        co.conninfo = p.conninfo;
        co.on_log = p.log;
        p.receiver.emplace(std::move(co));
        if (std::string e = p.receiver->start(); !e.empty())
            return E::usage("--callback-listen: " + e);
        // The receiver's own address, unless --callback-url names the public
        // one (a proxy in front).
        if (arc_settings->callback_url.empty()) arc_settings->callback_url = p.receiver->url();
        p.log("ARC callbacks at " + p.receiver->url());
    }
    if (arc_settings) {
        p.arc.emplace(*arc_settings);
    } else {
        try {
            p.sink.emplace(o.out_path, o.encoding,
                           o.memory ? send::FileSinkMode::truncate_buffered
                                    : send::FileSinkMode::append_write_through);
        } catch (const std::exception& e) {
            return E::usage(std::string("--out: ") + e.what());
        }
    }

    // ---- this engine's identity, and what dead ones left ----
    if (!o.memory) {
        try {
            p.instance.emplace(p.conninfo, jobs::new_instance_id());
        } catch (const std::exception& e) {
            return E::internal(e.what());
        }
        p.instance_id = p.instance->id();
        // UTXOs leased by engines that died go back to the pool before this
        // one leases (their jobs are adopted by the job feeder below).
        std::vector<std::string> dead;
        if (pg::Status st = jobs::find_dead_instances(*p.db, p.instance_id, dead); !st.ok())
            return E::internal("looking for dead engines failed: " + st.message());
        for (const std::string& d : dead) {
            const auto r = pool::reclaim_utxos(*p.db, d);
            if (!r.ok()) return E::internal("reclaiming UTXO leases failed: " + r.status.message());
        }
        if (const auto r = pool::reclaim_expired(*p.db); !r.ok())
            return E::internal("reclaiming expired UTXO leases failed: " + r.status.message());
        if (std::string e = take_over_legacy(*p.db, p.instance_id, o.adopt_legacy, arc_settings,
                                             p.legacy_report, p.log);
            !e.empty())
            return E::internal(e);
    }

    // ---- the graph ----
    pipeline::PipelineConfig& config = p.config;
    // With a database, the jobs waiting at the fence for their flush sit in
    // the sign -> gate channel: a deeper one lets the next flush gather more
    // while one commits (perf/durable.sh: ~1.6x over 1024 on 2 cores).
    config.channel_capacity =
        o.channel_capacity != 0 ? o.channel_capacity : (o.memory ? 1024 : 4096);
    if (!o.batch_prefix.empty()) {
        config.batch_prefix = o.batch_prefix;
    } else if (o.memory) {
        config.batch_prefix = std::string("r");
        config.batch_prefix += std::to_string(::getpid());
    } else {
        config.batch_prefix = p.instance_id;
    }
    config.batch_window = o.batch_window;
    config.max_batch_size = o.max_batch_size;
    config.gate.capacity = o.no_gate ? gate::k_max_capacity : o.rate;
    config.gate.period =
        o.no_gate ? std::chrono::nanoseconds(1) : std::chrono::nanoseconds(o.period);
    config.sign.publication.change = o.change;
    config.sign.publication.fee_rate = o.fee_rate;
    config.sign.extended = true;
    if (p.arc) {
        // ARC's policy, read by the client at start and refreshed: the sign
        // stage follows it (never below the configured fee rate).
        config.sign.live_fee_rate = [&p] { return p.arc->fee_rate(); };
    }
    config.ingest.seed = o.seed != 0 ? o.seed : ingest::random_seed();
    config.ingest.wall_offset = ingest::wall_clock_offset(p.clock);
    config.ingest.validator.max_age = o.max_age;
    config.ingest.reject_sink = o.reject_sink;
    config.ingest.queue = o.intake_queue;
    if (o.intake_queue != nullptr) o.intake_queue->set_waker([&p] { p.wake(); });
    config.external_inputs = !o.memory;

    p.nonces.emplace(ingest::InMemoryNonceStore::k_default_capacity,
                     config.ingest.validator.max_age + config.ingest.validator.max_future);
    if (!o.memory) {
        const keys::NonceLoad nl =
            keys::load_recent_nonces(*p.db, *p.nonces, p.nonces->retention());
        if (!nl.ok()) return E::internal("loading recent nonces failed: " + nl.error);
    }

    auto wake = [&p] { p.wake(); };
    if (!o.memory) {
        writebehind::WriteBehindOptions wo;
        wo.conninfo = p.conninfo;
        wo.instance_id = p.instance_id;
        wo.batch_prefix = config.batch_prefix;
        wo.max_flush = o.flush_max;
        wo.on_durable = [&p, hook = o.on_durable] {
            p.wake();
            if (hook) hook();
        };
        wo.on_log = p.log;
        p.wb.emplace(std::move(wo));
    }

    pipeline::PipelineParts parts;
    parts.input_fd = o.input_fd;
    if (o.input_fd < 0) {
        // No intake file: an input that ends at once (a service takes the
        // database's queued rows through the job feeder).
        p.no_intake.fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (p.no_intake.fd < 0)
            return E::internal(std::string("opening /dev/null failed: ") + std::strerror(errno));
        parts.input_fd = p.no_intake.fd;
    }
    parts.nonces = &*p.nonces;
    parts.signers = &p.signers;
    parts.ring = &*p.ring;
    parts.key = &*o.key;
    if (p.arc) {
        p.resigner.emplace(*o.key, config.sign.publication);
        parts.arc = &*p.arc;
        parts.resigner = &*p.resigner;
    } else {
        parts.sink = &*p.sink;
    }
    parts.facts = p.wb ? static_cast<model::FactSink*>(&*p.wb) : &p.counting_facts;
    parts.clock = &p.clock;
    const bool shared_rate = !o.memory && p.arc && !o.no_gate && o.shared_rate;
    if (shared_rate) parts.shared_rate = &p.shared_allowance;
    try {
        p.pipe.emplace(config, parts);
    } catch (const std::invalid_argument& e) {
        return E::usage(e.what());
    }
    p.runner.store(&p.pipe->runner(), std::memory_order_release);
    if (p.arc) {
        // Before any storage thread: a wrong URL or key stops here, with
        // nothing to undo.
        if (std::string e = p.arc->start(&p.pipe->runner().context()); !e.empty()) {
            p.runner.store(nullptr, std::memory_order_release);
            return E::usage(e);
        }
        p.log("sending to ARC at " + p.arc->settings().url + " (fee rate " +
              p.arc->fee_rate().to_string() + ")");
    }
    if (shared_rate) {
        SharedRateSettings rs;
        rs.capacity = o.rate;
        rs.period = o.period;
        p.shared_rate.emplace(p.conninfo, p.instance_id, rs, p.shared_allowance, p.pipe->answered(),
                              wake, p.log);
        if (std::string e = p.shared_rate->start(); !e.empty()) return E::internal(e);
    }

    if (!o.memory) {
        pool::PoolFeederOptions po;
        po.instance_id = p.instance_id;
        po.lease_duration = o.lease;
        po.publish_value = o.publish_value;
        // A batch run: jobs beyond the pool fail, they do not wait.
        po.close_when_empty = !o.service;
        po.on_refill = wake;
        if (p.arc && o.replenish) {
            ReplenishSettings rs = *o.replenish;
            rs.publish_value = o.publish_value;
            ReplenishTarget target{*o.key, p.arc->settings().url, p.arc->settings().api_key,
                                   p.arc->fee_rate(), p.instance_id};
            p.replenisher.emplace(
                p.conninfo, std::move(target), rs,
                [&p] {
                    const pipeline::Pipeline* pipe = p.running.load(std::memory_order_acquire);
                    return pipe != nullptr ? pipe->sign().signed_count() : 0;
                },
                p.log);
            p.replenisher->set_fee_source([&p] { return p.arc->fee_rate(); });
            // A batch run's pool stays open while funding can still be split.
            po.may_refill = [&p] { return p.replenisher->may_supply(); };
        }
        p.pool_feeder.emplace(p.conninfo, *p.ring, po);

        jobs::JobFeederOptions jo;
        jo.conninfo = p.conninfo;
        jo.instance_id = p.instance_id;
        if (!o.service) jo.input_done = [&p] { return p.pipe->ingest().input_finished(); };
        jo.on_dead_instance = [](pg::Connection& c, const std::string& dead) {
            (void)pool::reclaim_utxos(c, dead);
        };
        jo.on_log = p.log;
        auto in = p.pipe->take_external_inputs();
        p.job_feeder.emplace(std::move(jo), std::move(in.to_sequence), std::move(in.to_sign),
                             std::move(in.to_gate), p.pipe->runner().context());
        try {
            p.wb->start();
            p.pool_feeder->start();
            p.job_feeder->start();
            if (p.replenisher) p.replenisher->start();
        } catch (const std::exception& e) {
            // Nothing ran yet: stop what started before the pipeline (which
            // the write-behind would wake) goes away.
            p.runner.store(nullptr, std::memory_order_release);
            if (p.replenisher) p.replenisher->stop();
            p.pool_feeder->stop();
            p.wb->stop(std::chrono::milliseconds(0));
            p.job_feeder.reset();
            return E::internal(std::string("starting the storage threads failed: ") + e.what());
        }
    }

    // ---- run, with progress lines ----
    p.t0 = std::chrono::steady_clock::now();
    if (o.handle_signals) p.drain.emplace(p.pipe->runner());
    p.pipe->start();
    p.started = true;
    p.running.store(&*p.pipe, std::memory_order_release);
    if (p.stop_requested.load(std::memory_order_acquire)) p.pipe->request_stop();
    if (o.progress_interval.count() > 0) {
        p.progress = std::thread([this] {
            Parts& q = *m_parts;
            std::unique_lock lock(q.mu);
            std::uint64_t last_sent = 0;
            auto last_t = std::chrono::steady_clock::now();
            while (!q.cv.wait_for(lock, m_config.progress_interval, [&] { return q.done; })) {
                const EngineProgress g = progress();
                const auto now = std::chrono::steady_clock::now();
                const double dt = std::chrono::duration<double>(now - last_t).count();
                char line[256];
                std::snprintf(line, sizeof line,
                              "%.1fs read %llu accepted %llu rejected %llu signed %llu sent %llu "
                              "(%.0f tx/s) utxos left %zu",
                              g.seconds, static_cast<unsigned long long>(g.read),
                              static_cast<unsigned long long>(g.accepted),
                              static_cast<unsigned long long>(g.rejected),
                              static_cast<unsigned long long>(g.signed_count),
                              static_cast<unsigned long long>(g.sent),
                              dt > 0 ? static_cast<double>(g.sent - last_sent) / dt : 0.0,
                              g.utxos_in_ring);
                q.log(line);
                last_sent = g.sent;
                last_t = now;
            }
        });
    }
    return {};
}

void Engine::wait() {
    Parts& p = *m_parts;
    if (!p.started || p.waited) return;
    p.pipe->wait();
    // Every job answered: the shared rate's slices settle.
    if (p.shared_rate) p.shared_rate->stop();
    if (p.replenisher) p.replenisher->stop();
    if (p.arc) p.arc->stop();
    if (p.receiver && m_config.callback_wait.count() > 0 && p.pipe->network_send()->sent() > 0) {
        // Blocks are mined after the last send: wait (bounded) until ARC has
        // confirmed every transaction sent, so the database says confirmed.
        const auto until = std::chrono::steady_clock::now() + m_config.callback_wait;
        while (p.receiver->stats().confirmed < p.pipe->network_send()->sent() &&
               std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (p.receiver) p.receiver->stop();
    // Storage winds down after the stages: the job feeder has closed its
    // inputs (or the pipeline could not have finished), the ring's consumer
    // is gone so the pool feeder can return what is left in it, and the
    // write-behind flushes every fact before the run reports.
    if (!m_config.memory) {
        p.job_feeder->join();
        p.pool_report = p.pool_feeder->stop();
        p.all_durable = p.wb->stop();
    }
    {
        std::lock_guard lock(p.mu);
        p.done = true;
    }
    p.cv.notify_all();
    if (p.progress.joinable()) p.progress.join();
    p.signal = p.drain ? p.drain->signal_received() : 0;
    p.drain.reset();
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - p.t0).count();
    p.waited = true;
}

void Engine::request_stop() noexcept {
    Parts& p = *m_parts;
    p.stop_requested.store(true, std::memory_order_release);
    if (pipeline::Pipeline* pipe = p.running.load(std::memory_order_acquire)) pipe->request_stop();
}

EngineProgress Engine::progress() const {
    const Parts& p = *m_parts;
    EngineProgress g;
    const pipeline::Pipeline* pipe = p.running.load(std::memory_order_acquire);
    if (pipe == nullptr) return g;
    g.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - p.t0).count();
    g.read = pipe->ingest().lines_read();
    g.accepted = pipe->ingest().accepted();
    g.rejected = pipe->ingest().counters().rejected();
    g.signed_count = pipe->sign().signed_count();
    g.sent = pipe->send() != nullptr ? pipe->send()->sent() : pipe->network_send()->sent();
    g.utxos_in_ring = p.ring->depth();
    return g;
}

Json Engine::summary() const {
    const Parts& p = *m_parts;
    const EngineConfig& o = m_config;
    Json summary;
    if (!p.waited) return summary;
    const auto& in = p.pipe->ingest();
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
    summary["batches"] = p.pipe->sequence().batches_closed();
    summary["transactions"]["signed"] = p.pipe->sign().signed_count();
    summary["transactions"]["sign_failed"] = p.pipe->sign().failed();
    summary["transactions"]["no_utxo"] = p.pipe->sign().unfunded();
    if (const auto* s = p.pipe->send()) {
        summary["transactions"]["written"] = s->sent();
        summary["transactions"]["write_failed"] = s->failed();
    } else {
        const send::NetworkSendStage& ns = *p.pipe->network_send();
        summary["transactions"]["sent"] = ns.sent();
        summary["transactions"]["network_failed"] = ns.failed();
        summary["transactions"]["resigned_after_fee_refusal"] = ns.resigned();
        summary["transactions"]["unresolved"] = ns.unresolved();
        summary["latency_ms"]["intake_to_sent_p50"] =
            static_cast<double>(ns.latency().quantile(0.50).count()) / 1000.0;
        summary["latency_ms"]["intake_to_sent_p99"] =
            static_cast<double>(ns.latency().quantile(0.99).count()) / 1000.0;
        const send::ArcStats as = p.arc->stats();
        Json a;
        a["url"] = p.arc->settings().url;
        a["requests"] = as.requests;
        a["txs_posted"] = as.txs_posted;
        a["retries"] = as.retries;
        a["timeouts"] = as.timeouts;
        a["transport_errors"] = as.transport_errors;
        a["http_5xx"] = as.http_5xx;
        a["http_4xx"] = as.http_4xx;
        a["request_refusals"] = as.request_refusals;
        if (std::string f = p.arc->fatal_error(); !f.empty()) a["stopped_the_run"] = f;
        a["auth_errors"] = as.auth_errors;
        a["missing_entries"] = as.missing_entries;
        a["fee_too_low"] = as.fee_too_low;
        a["policy_reads"] = as.policy_reads;
        a["status_checks"] = as.status_checks;
        a["fee_rate"] = p.arc->fee_rate().to_string();
        a["request_ms_p50"] = static_cast<double>(as.latency_p50_us) / 1000.0;
        a["request_ms_p99"] = static_cast<double>(as.latency_p99_us) / 1000.0;
        summary["arc"] = a;
        if (p.receiver) {
            const callbacks::CallbackStats cs = p.receiver->stats();
            Json cb;
            cb["url"] = p.receiver->url();
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
    summary["utxos"]["loaded"] = o.utxos.size();
    if (!o.memory) {
        summary["utxos"]["leased"] = p.pool_feeder->leased();
        summary["utxos"]["returned_to_pool"] = p.pool_report.released;
        if (p.replenisher) {
            const Replenisher::Health h = p.replenisher->health();
            Json r;
            r["state"] = h.state;
            r["passes"] = h.passes;
            r["splits"] = h.splits;
            r["outputs"] = h.outputs;
            r["failures"] = h.failures;
            r["pool_depth"] = h.depth;
            r["funding_satoshis"] = h.funding_satoshis;
            if (!h.last_error.empty()) r["last_error"] = h.last_error;
            summary["replenisher"] = r;
        }
        if (p.shared_rate) {
            const SharedRate::Stats st = p.shared_rate->stats();
            Json r;
            r["capacity"] = o.rate;
            r["period_ms"] = o.period.count();
            r["slices"] = st.slices;
            r["tokens"] = st.tokens;
            r["short_acquires"] = st.short_acquires;
            r["given_back"] = st.given_back;
            r["settled"] = st.settled;
            r["dead_engines_slices_settled"] = st.reaped;
            r["own_slices_settled_elsewhere"] = st.lost;
            r["gate_waits"] = p.pipe->gate().shared_waits();
            r["failures"] = st.failures;
            if (!st.last_error.empty()) r["last_error"] = st.last_error;
            summary["shared_rate"] = r;
        }
        const writebehind::WriteBehindStats ws = p.wb->stats();
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
        const jobs::JobFeederStats js = p.job_feeder->stats();
        Json r;
        r["resumed_to_gate"] = js.resumed_to_gate;
        r["resumed_to_sign"] = js.resumed_to_sign;
        r["resumed_to_sequence"] = js.resumed_to_sequence;
        r["claimed"] = js.claimed;
        r["dead_instances_adopted"] = js.instances_adopted;
        summary["recovery"] = r;
        if (!p.legacy_report.is_null()) summary["legacy"] = p.legacy_report;
        summary["instance"] = p.instance_id;
        summary["database"] = p.embedded ? std::string("embedded (private, ") +
                                               (o.keep_db ? "kept in " + p.embedded->directory()
                                                          : std::string("removed on exit")) +
                                               ")"
                                         : pg::describe_target(p.conninfo);
        summary["transactions"]["refused_by_storage"] = p.pipe->gate().refused();
    } else {
        summary["utxos"]["left"] = p.ring->depth();
    }
    summary["seconds"] = p.seconds;
    summary["tx_per_second"] = p.seconds > 0 ? static_cast<double>(p.sent()) / p.seconds : 0.0;
    Json stages = Json::object();
    for (const auto& s : p.pipe->report())
        stages[s.name] = counters_json(s.counters);
    summary["stages"] = stages;
    if (p.signal != 0) summary["stopped_by_signal"] = p.signal;
    if (in.input_error() != 0) summary["input_error"] = std::strerror(in.input_error());
    if (!o.out_path.empty()) summary["out"] = o.out_path;
    return summary;
}

EngineError Engine::outcome() const {
    const Parts& p = *m_parts;
    using E = EngineError;
    if (!p.waited) return {};
    const auto& in = p.pipe->ingest();
    if (in.input_error() != 0)
        return E::internal(std::string("reading intents failed: ") +
                           std::strerror(in.input_error()));
    if (p.pipe->send() != nullptr && p.pipe->send()->flush_failed())
        return E::internal("writing " + m_config.out_path + " failed");
    if (p.arc)
        if (std::string f = p.arc->fatal_error(); !f.empty()) return E::usage(f);
    if (p.pipe->network_send() != nullptr && p.pipe->network_send()->unresolved() > 0)
        return E::internal(
            std::to_string(p.pipe->network_send()->unresolved()) +
            " transactions got no definite answer from ARC (timeouts, errors or a refused API "
            "key; see the summary's arc counters). They stay 'sending' in the database; the next "
            "run looks each up at ARC (GET /v1/tx) and sends the same bytes only if ARC does not "
            "have it");
    if (!p.all_durable)
        return E::internal(
            "the database stayed unreachable: some facts are not durable (the jobs they belong "
            "to resume at the next start)");
    return {};
}

std::uint64_t Engine::unfunded() const {
    return m_parts->pipe ? m_parts->pipe->sign().unfunded() : 0;
}

int Engine::signal_received() const {
    return m_parts->signal;
}

const std::string& Engine::conninfo() const {
    return m_parts->conninfo;
}

const std::string& Engine::instance_id() const {
    return m_parts->instance_id;
}

const model::FactSink* Engine::facts() const {
    const Parts& p = *m_parts;
    if (p.wb) return &*p.wb;
    return &p.counting_facts;
}

Engine::StorageHealth Engine::storage_health() const {
    const Parts& p = *m_parts;
    StorageHealth h;
    if (!p.wb) return h;
    h.healthy = p.wb->healthy();
    const writebehind::WriteBehindStats s = p.wb->stats();
    h.pending = s.pending;
    if (!h.healthy) h.error = s.last_error;
    return h;
}

bool Engine::storage_healthy() const noexcept {
    const Parts& p = *m_parts;
    return !p.wb || p.wb->healthy();
}

void Engine::set_signer(const ingest::CompressedPubkey& pubkey, ingest::SignerStatus status) {
    m_parts->signers.set(pubkey, status);
}

std::optional<Replenisher::Health> Engine::replenisher_health() const {
    const Parts& p = *m_parts;
    if (!p.replenisher) return std::nullopt;
    return p.replenisher->health();
}

std::optional<Engine::NetworkHealth> Engine::network_health() const {
    const Parts& p = *m_parts;
    if (!p.arc) return std::nullopt;
    const send::ArcStats st = p.arc->stats();
    const auto stale_ms = 3 * p.arc->settings().policy_refresh.count();
    NetworkHealth h;
    h.policy_age_ms = st.policy_age_ms;
    h.unanswered_in_a_row = st.unanswered_in_a_row;
    h.reachable =
        st.unanswered_in_a_row < 3 && st.policy_age_ms >= 0 && st.policy_age_ms <= stale_ms;
    h.fee_rate = p.arc->fee_rate();
    return h;
}

}  // namespace raregen::service
