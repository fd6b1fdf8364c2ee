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
// Settings: the engine's flags (engine_flags.h, shared with `raregen serve`),
// with defaults from the seed service's environment variables where it had
// one; run adds its intake (--intents), --rejects and --memory.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "service/engine/engine.h"
#include "stages/ingest/ingest_stage.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"
#include "tools/raregen/engine_flags.h"

namespace raregen::cli {

namespace {

struct RunOptions {
    EngineFlags engine;
    std::string intents;
    std::string rejects;
    bool memory = false;  // no database at all
};

int run_pipeline(const RunOptions& o) {
    // ---- inputs, each checked before anything runs ----
    service::EngineConfig c;
    if (const int rc = engine_config_from_flags(o.engine, o.memory, c); rc != k_exit_ok) return rc;
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
    apply_env_defaults(opts->engine);
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
    run->add_option("--rejects", opts->rejects,
                    "write one JSON line per rejected intent to this file");
    run->add_flag("--memory", opts->memory,
                  "no database: nothing durable, nothing resumed (benchmarks, quick checks)");
    add_engine_flags(*run, opts->engine);
    set_action(*run, [opts] { return run_pipeline(*opts); });
}

}  // namespace raregen::cli
