// `raregen status`: the monitoring queries of ops/sql (throughput in the
// last 3 s, batch health with the sequencing check, pool depth by size,
// error rate by code, stuck sending) against $DATABASE_URL, read in one
// snapshot (service/status): JSON on stdout, or tables with --table. Reads
// only: it does not migrate, so it also reads the old RareGen service's
// database as it is.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "service/status/status.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"
#include "tools/raregen/database.h"

namespace raregen::cli {

namespace {

struct StatusCliOptions {
    status::StatusOptions query;
    bool table = false;
    bool fail_on_broken = false;
};

int run_status_command(const StatusCliOptions& o) {
    if (o.query.batches < 1 || o.query.error_window_s < 1 || o.query.publish_value < 1)
        return usage_error("--batches, --error-window-s and --publish-value must be at least 1");
    int exit_code = k_exit_ok;
    auto conn = open_database(exit_code, /*migrate=*/false);
    if (!conn) return exit_code;
    status::Json report;
    if (const pg::Status st = status::read_status(*conn, o.query, report); !st.ok())
        return internal_error("the monitoring queries failed: " + st.message() +
                              " (is DATABASE_URL a raregen or RareGen database?)");
    int printed = k_exit_ok;
    if (o.table) {
        const std::string text = status::format_tables(report);
        if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
            std::fflush(stdout) != 0)
            printed = k_exit_internal;
    } else {
        printed = print_json(report);
    }
    const auto broken = report["batches"]["not_sequential"].get<std::size_t>();
    if (o.fail_on_broken && broken > 0)
        return internal_error(std::to_string(broken) +
                              " of the newest batches are not sequential (see batches.broken)");
    return printed;
}

}  // namespace

void register_status_command(CLI::App& app) {
    auto o = std::make_shared<StatusCliOptions>();
    CLI::App* cmd = app.add_subcommand(
        "status",
        "The operators' monitoring queries (ops/sql) against $DATABASE_URL, in one snapshot: "
        "throughput in the last 3 s, the newest batches checked for their sequence (jobs "
        "exactly job_count, batch_seq 1..N), UTXO pool depth by size, failed jobs by error "
        "code, jobs stuck sending for over 2 minutes. Reads only (no migration).");
    cmd->add_option("--batches", o->query.batches, "How many of the newest batches to check")
        ->capture_default_str();
    cmd->add_option("--error-window-s", o->query.error_window_s,
                    "Window of the error rate, in seconds")
        ->capture_default_str();
    cmd->add_option("--publish-value", o->query.publish_value,
                    "Value of a publish UTXO, for the pool depth")
        ->capture_default_str();
    cmd->add_flag("--table", o->table, "Plain-text tables instead of JSON");
    cmd->add_flag("--fail-on-broken", o->fail_on_broken,
                  "Exit 1 if a checked batch is not sequential (for scripts and alerts)");
    cmd->footer("Environment: DATABASE_URL (required).");
    set_action(*cmd, [o] { return run_status_command(*o); });
}

}  // namespace raregen::cli
