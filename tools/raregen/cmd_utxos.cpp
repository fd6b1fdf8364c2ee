// `raregen utxos import|split|replenish|status`: the `utxos` table of the database named by
// DATABASE_URL, which engine instances lease publish UTXOs from
// (storage/pool/utxo_pool.h).
//
// The database URL comes only from the environment (a password in a command
// line shows in the process list) and is never printed; errors name the
// target through pg::describe_target at most. Both commands bring the schema
// up to date first (pg::migrate), as the engine does at start.

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/fees.h"
#include "engine/chain/keys.h"
#include "engine/chain/publication.h"
#include "engine/chain/script.h"
#include "engine/chain/tx.h"
#include "service/http/arc_calls.h"
#include "service/replenish/replenisher.h"
#include "service/split/split.h"
#include "stages/send/arc_answer.h"
#include "storage/pg/connection.h"
#include "storage/pg/migrations.h"
#include "storage/pool/utxo_pool.h"
#include "storage/utxo/utxo_file.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"
#include "tools/raregen/database.h"
#include "tools/raregen/engine_flags.h"

namespace raregen::cli {

using http::arc_api_key_from_env;
using http::arc_policy_fee;

namespace {

using raregen::chain::k_max_money;

struct ImportOptions {
    std::vector<std::string> files;
    std::vector<std::string> outpoints;
    std::string purpose = "publish";
    std::string address;
};

int run_import(const ImportOptions& o) {
    const auto purpose = pool::parse_purpose(o.purpose);
    if (!purpose) {
        return usage_error("--purpose must be publish, funding or change, got '" + o.purpose + "'");
    }
    if (o.files.empty() && o.outpoints.empty()) {
        return usage_error(
            "nothing to import: give --file FILE (one 'TXID:VOUT SATOSHIS' per line, as `raregen "
            "gen utxos` writes) and/or TXID:VOUT:SATS arguments");
    }
    std::optional<std::string> script;
    std::optional<std::string> address;
    if (!o.address.empty()) {
        const auto decoded = chain::decode_p2pkh_address(o.address);
        if (!decoded) {
            return usage_error("--address '" + o.address +
                               "' is not a P2PKH address (base58check, starting with 1, m or n)");
        }
        script = chain::to_hex(chain::p2pkh_locking_script(decoded->hash));
        address = o.address;
    }

    std::vector<pool::ImportUtxo> utxos;
    for (const std::string& path : o.files) {
        const utxo::UtxoFileResult file = utxo::load_utxo_file(path);
        if (!file.ok()) return usage_error(file.describe(path));
        for (const chain::Utxo& u : file.utxos)
            utxos.push_back(pool::ImportUtxo{u, script, address});
    }
    for (const std::string& arg : o.outpoints) {
        const auto u = parse_outpoint_arg(arg);
        if (!u) return usage_error(u.error);
        utxos.push_back(pool::ImportUtxo{*u.value, script, address});
    }

    int exit_code = k_exit_ok;
    auto conn = open_database(exit_code);
    if (!conn) return exit_code;
    const auto r = pool::import_utxos(*conn, utxos, *purpose);
    if (!r.ok()) return internal_error(r.status.message());

    Json j;
    j["inserted"] = r.value.inserted;
    j["already_present"] = r.value.already_present;
    j["given"] = utxos.size();
    j["purpose"] = o.purpose;
    if (address) j["address"] = *address;
    return print_json(j);
}

struct SplitOptions {
    std::string from;  // TXID:VOUT:SATS
    std::string key_file;
    std::string arc_url;
    std::string out;
    std::string fee_rate = "100/1000";
    std::size_t count = 0;
    std::int64_t each = 100;
    std::size_t per_tx = 1000;
    int attempts = 8;
    bool import = false;
};

int run_split(const SplitOptions& o) {
    const auto from = parse_outpoint_arg(o.from);
    if (!from) return usage_error("--from " + from.error);
    if (o.count == 0) return usage_error("--count must be at least 1");
    if (o.each < 1) return usage_error("--each must be at least 1 satoshi");
    if (o.per_tx == 0 || o.per_tx > 100'000)
        return usage_error("--per-tx must be between 1 and 100000");
    const auto floor = chain::parse_fee_rate(o.fee_rate);
    if (!floor) return usage_error("--fee-rate must be SATS/BYTES (e.g. 100/1000)");
    const auto arc_url = arc_url_arg(o.arc_url);
    if (!arc_url) return usage_error(arc_url.error);
    const std::string& url = *arc_url.value;
    const auto wif = read_key_file(o.key_file);
    if (!wif) return usage_error(wif.error);
    const chain::PublicationKey key(wif.value->key, wif.value->compressed);
    std::optional<pg::Connection> db;
    if (o.import) {
        int exit_code = k_exit_ok;
        db = open_database(exit_code);
        if (!db) return exit_code;
    }
    std::FILE* out = nullptr;
    if (!o.out.empty()) {
        out = std::fopen(o.out.c_str(), "w");
        if (out == nullptr) return usage_error("--out " + o.out + ": " + std::strerror(errno));
    }
    if (o.import && o.each != pool::k_publish_value)
        warn("--each " + std::to_string(o.each) + " with --import: engines lease only " +
             std::to_string(pool::k_publish_value) +
             "-satoshi publish outputs, so these will not be used for publications");
    const std::string api_key = arc_api_key_from_env();
    chain::FeeRate rate = *floor;
    if (const auto policy = arc_policy_fee(url, api_key); policy && policy->at_least(rate))
        rate = *policy;

    service::SplitPlan plan;
    plan.funding = *from.value;
    plan.count = o.count;
    plan.each = o.each;
    plan.per_tx = o.per_tx;
    plan.rate = rate;
    plan.attempts = o.attempts;
    plan.arc_url = url;
    plan.api_key = api_key;
    // Each accepted split's outputs: to --out (flushed), then to the table.
    const service::SplitOutcome done = service::split_funding(
        key, plan,
        [&](const std::string& txid, std::span<const chain::Utxo> outputs) -> std::string {
            std::vector<pool::ImportUtxo> rows;
            for (const chain::Utxo& u : outputs) {
                if (out != nullptr)
                    std::fprintf(out, "%s:%u %lld\n", txid.c_str(), u.outpoint.vout,
                                 static_cast<long long>(u.value));
                if (db) rows.push_back(pool::ImportUtxo{u, std::nullopt, std::nullopt});
            }
            if (out != nullptr) std::fflush(out);
            if (db) {
                const auto imported = pool::import_utxos(*db, rows, pool::Purpose::publish);
                if (!imported.ok())
                    return "importing the split outputs failed: " + imported.status.message();
            }
            return {};
        });
    using Stop = service::SplitOutcome::Stop;
    int rc = k_exit_ok;
    switch (done.stop) {
        case Stop::done:
            break;
        case Stop::bad_plan:
        case Stop::funding_ran_out:
            rc = usage_error(done.error);
            break;
        case Stop::refused:
        case Stop::unknown:
            rc = internal_error(done.error + (done.transactions > 0
                                                  ? " (the " + std::to_string(done.transactions) +
                                                        " accepted before it are in --out)"
                                                  : std::string()));
            break;
        case Stop::sink_failed:
        case Stop::record_failed:
            rc = internal_error(done.error);
            break;
    }
    const std::size_t txs = done.transactions, retries = done.retries, lookups = done.lookups;
    const std::size_t left = o.count - done.outputs;
    const chain::Utxo funding = done.change;
    Json txids = done.txids;
    if (out != nullptr && std::fclose(out) != 0 && rc == k_exit_ok)
        rc = internal_error("writing --out " + o.out + " failed");
    Json j;
    j["transactions"] = txs;
    j["outputs"] = o.count - left;
    j["each"] = o.each;
    j["fee_rate"] = rate.to_string();
    j["retries"] = retries;
    j["lookups"] = lookups;
    j["txids"] = txids;
    if (funding.value > 0) {
        j["change"]["outpoint"] = chain::format_outpoint(funding.outpoint);
        j["change"]["satoshis"] = funding.value;
    }
    if (!o.out.empty()) j["out"] = o.out;
    const int printed = print_json(j);
    return rc != k_exit_ok ? rc : printed;
}

struct ReplenishOptions {
    std::string key_file;
    std::string arc_url;
    std::string fee_rate = "100/1000";
    std::uint64_t min_pool = 50'000;
    std::uint64_t split_batch = 100'000;
    std::size_t per_tx = 1000;
    std::int64_t publish_value = 100;
    int attempts = 8;
    bool force = false;
};

int run_replenish(ReplenishOptions o) {
    if (o.split_batch == 0 || o.split_batch > 10'000'000)
        return usage_error("--split-batch-size must be 1..10000000 outputs");
    if (o.per_tx == 0 || o.per_tx > 100'000)
        return usage_error("--per-tx must be between 1 and 100000");
    if (o.publish_value < 1) return usage_error("--publish-value must be at least 1 satoshi");
    const auto floor = chain::parse_fee_rate(o.fee_rate);
    if (!floor) return usage_error("--fee-rate must be SATS/BYTES (e.g. 100/1000)");
    const auto arc_url = arc_url_arg(o.arc_url);
    if (!arc_url) return usage_error(arc_url.error);
    const std::string& url = *arc_url.value;
    const auto wif = key_file_or_env(
        o.key_file,
        "no key: give --key-file PATH (mode 0600, the WIF that owns the funding outputs) or set "
        "RAREGEN_WIF");
    if (!wif) return usage_error(wif.error);
    const chain::PublicationKey key(wif.value->key, wif.value->compressed);
    int exit_code = k_exit_ok;
    auto conn = open_database(exit_code);
    if (!conn) return exit_code;
    const std::string api_key = arc_api_key_from_env();
    chain::FeeRate rate = *floor;
    if (const auto policy = arc_policy_fee(url, api_key); policy && policy->at_least(rate))
        rate = *policy;
    service::ReplenishSettings s;
    s.min_pool = static_cast<std::size_t>(o.min_pool);
    s.split_batch = static_cast<std::size_t>(o.split_batch);
    s.per_tx = o.per_tx;
    s.publish_value = o.publish_value;
    s.attempts = o.attempts;
    const service::ReplenishTarget target{key, url, api_key, rate, "cli"};
    const service::PassReport r = service::replenish_pass(*conn, target, s, true, o.force);
    Json j;
    j["ran"] = r.ran;
    j["pool_before"] = r.depth_before;
    j["pool_after"] = r.depth_after;
    j["split_wanted"] = r.split_wanted;
    j["transactions"] = r.transactions;
    j["outputs"] = r.outputs;
    j["fees"] = r.fees;
    j["fee_rate"] = rate.to_string();
    j["pending_accepted"] = r.resumed_accepted;
    j["pending_refused"] = r.resumed_refused;
    j["funding_short"] = r.funding_short;
    j["split_pending"] = r.split_pending;
    j["split_refused"] = r.split_refused;
    j["funding"]["satoshis"] = r.funding_satoshis;
    j["funding"]["outputs"] = r.funding_outputs;
    if (!r.ran && r.error.empty())
        warn("another engine's replenisher holds the lock: nothing done; try again later");
    if (r.funding_short)
        warn("funding ran short: " + std::to_string(r.funding_satoshis) +
             " sat usable left; add some with `raregen utxos import --purpose funding`");
    const int printed = print_json(j);
    if (!r.error.empty()) return internal_error(r.error);
    return printed;
}

int run_status() {
    int exit_code = k_exit_ok;
    auto conn = open_database(exit_code);
    if (!conn) return exit_code;
    const auto r = pool::pool_status(*conn);
    if (!r.ok()) return internal_error(r.status.message());
    const pool::PoolStatus& s = r.value;

    Json j;
    j["total"] = s.total;
    j["leasable"] = s.leasable;
    Json by_purpose = Json::object();
    for (const pool::StatusCount& c : s.by_purpose_status) {
        Json entry;
        entry["count"] = c.count;
        entry["dirty"] = c.dirty;
        entry["satoshis"] = c.satoshis;
        by_purpose[c.purpose][c.status] = entry;
    }
    j["by_purpose"] = by_purpose;
    Json leases = Json::array();
    for (const pool::InstanceLeases& l : s.by_instance) {
        Json entry;
        entry["instance_id"] = l.instance_id;
        entry["reserved"] = l.reserved;
        entry["expired"] = l.expired;
        leases.push_back(entry);
    }
    j["leases"] = leases;
    j["reserved_without_lease"] = s.reserved_unleased;
    // 'publish' rows worth more than a publication: never leased (they would
    // be burnt as fee); funding to split (raregen utxos split --from).
    j["publish_above_value"]["count"] = s.oversized;
    j["publish_above_value"]["satoshis"] = s.oversized_satoshis;
    return print_json(j);
}

}  // namespace

void register_utxos_commands(CLI::App& app) {
    CLI::App* group = app.add_subcommand(
        "utxos",
        "The utxos table of the database in DATABASE_URL (the pool engines lease publish UTXOs "
        "from). The schema is brought up to date first.");
    group->require_subcommand(1);

    auto o = std::make_shared<ImportOptions>();
    CLI::App* import = group->add_subcommand(
        "import",
        "Add outpoints to the utxos table as 'available' (already present ones are left as they "
        "are, so importing twice is harmless).");
    import
        ->add_option("--file", o->files,
                     "UTXO file: one 'TXID:VOUT SATOSHIS' per line (`raregen gen utxos` output); "
                     "may be repeated")
        ->type_name("FILE")
        ->allow_extra_args(false);  // `--file F TXID:VOUT:SATS`: the outpoint is not a file
    import->add_option("outpoints", o->outpoints, "Outpoints to add, each TXID:VOUT:SATS")
        ->type_name("TXID:VOUT:SATS");
    import->add_option("--purpose", o->purpose, "publish, funding or change")
        ->capture_default_str();
    import->add_option("--address", o->address,
                       "P2PKH address the outputs pay: stored with its locking script (without "
                       "it, script_pub_key is left empty, meaning the engine's own key)");
    import->footer(
        "Environment: DATABASE_URL (required).\nOutput: {inserted, already_present, given, "
        "purpose[, address]}.");
    set_action(*import, [o] { return run_import(*o); });

    auto so = std::make_shared<SplitOptions>();
    CLI::App* split = group->add_subcommand(
        "split",
        "Split a funding output of your key into many equal publish UTXOs (default 100 "
        "satoshis): a chain of transactions, each broadcast to ARC and accepted before its "
        "outputs are written to --out (and, with --import, to the utxos table).");
    split
        ->add_option("--from", so->from,
                     "The funding output, TXID:VOUT:SATS (e.g. from `raregen "
                     "network fund`)")
        ->required();
    split->add_option("--key-file", so->key_file, "WIF key (mode 0600) that owns --from")
        ->required();
    split->add_option("--count", so->count, "How many outputs to make")->required();
    split->add_option("--each", so->each, "Satoshis per output")->capture_default_str();
    split->add_option("--per-tx", so->per_tx, "Outputs per split transaction")
        ->capture_default_str();
    split
        ->add_option("--attempts", so->attempts,
                     "POSTs per split transaction at most, while ARC gives no verdict (5xx, 409, "
                     "429, timeouts, dropped connections; looked up by txid before each resend)")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    split
        ->add_option("--fee-rate", so->fee_rate,
                     "Fee floor SATS/BYTES (ARC's /v1/policy wins when higher)")
        ->capture_default_str();
    split->add_option("--arc-url", so->arc_url, "ARC base URL (env ARC_URL)");
    split->add_option("--out", so->out, "Write the outputs as a UTXO file ('TXID:VOUT SATOSHIS')");
    split->add_flag("--import", so->import,
                    "Also import the outputs into the utxos table of DATABASE_URL");
    split->footer(
        "Environment: ARC_URL, ARC_API_KEY (sent as Bearer), DATABASE_URL (with --import).\n"
        "Output: {transactions, outputs, each, fee_rate, txids, change: {outpoint, satoshis}}.");
    set_action(*split, [so] { return run_split(*so); });

    auto ro = std::make_shared<ReplenishOptions>();
    // The engine's environment names, as `raregen serve` reads them: defaults
    // read before the flags are parsed, so a flag given wins.
    env_default_u64("MIN_UTXO_POOL_SIZE", ro->min_pool);
    env_default_u64("MIN_POOL_SIZE", ro->min_pool);
    env_default_u64("UTXO_SPLIT_SIZE", ro->split_batch);
    env_default_u64("SPLIT_BATCH_SIZE", ro->split_batch);
    CLI::App* replenish = group->add_subcommand(
        "replenish",
        "One pass of the replenisher that raregen serve and run keep running: settle split "
        "transactions left without a verdict, then, if fewer than --min-pool-size publish UTXOs "
        "are available, split --split-batch-size new ones from the largest funding/change "
        "outputs of your key in the utxos table (each split recorded before it is sent, its "
        "outputs added once ARC accepted it).");
    replenish->add_option("--key-file", ro->key_file,
                          "WIF key (mode 0600) that owns the funding (else RAREGEN_WIF)");
    replenish->add_option("--arc-url", ro->arc_url, "ARC base URL (env ARC_URL)");
    replenish
        ->add_option("--min-pool-size", ro->min_pool,
                     "split only under this many available publish UTXOs (env MIN_POOL_SIZE, or "
                     "MIN_UTXO_POOL_SIZE)")
        ->capture_default_str();
    replenish
        ->add_option("--split-batch-size", ro->split_batch,
                     "publish UTXOs to make (env SPLIT_BATCH_SIZE, or UTXO_SPLIT_SIZE)")
        ->capture_default_str();
    replenish->add_option("--per-tx", ro->per_tx, "Outputs per split transaction")
        ->capture_default_str();
    replenish->add_option("--publish-value", ro->publish_value, "Satoshis per output")
        ->capture_default_str();
    replenish
        ->add_option("--fee-rate", ro->fee_rate,
                     "Fee floor SATS/BYTES (ARC's /v1/policy wins when higher)")
        ->capture_default_str();
    replenish
        ->add_option("--attempts", ro->attempts,
                     "POSTs per split transaction at most, while ARC gives no verdict")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    replenish->add_flag("--force", ro->force, "Split even when the pool is at its floor");
    replenish->footer(
        "Environment: DATABASE_URL (required), ARC_URL, ARC_API_KEY (sent as Bearer), "
        "RAREGEN_WIF.\nOutput: {ran, pool_before, pool_after, split_wanted, transactions, "
        "outputs, fees, fee_rate, pending_accepted, pending_refused, funding_short, "
        "split_pending, split_refused, funding: "
        "{satoshis, outputs}}.");
    set_action(*replenish, [ro] { return run_replenish(*ro); });

    CLI::App* status = group->add_subcommand(
        "status", "Count the utxos table's rows by purpose and status, and leases by instance.");
    status->footer(
        "Environment: DATABASE_URL (required).\nOutput: {total, leasable, by_purpose: {PURPOSE: "
        "{STATUS: {count, dirty, satoshis}}}, leases: [{instance_id, reserved, expired}], "
        "reserved_without_lease}.");
    set_action(*status, [] { return run_status(); });
}

}  // namespace raregen::cli
