// `raregen utxos import|status`: the `utxos` table of the database named by
// DATABASE_URL, which engine instances lease publish UTXOs from
// (storage/pool/utxo_pool.h).
//
// The database URL comes only from the environment (a password in a command
// line shows in the process list) and is never printed; errors name the
// target through pg::describe_target at most. Both commands bring the schema
// up to date first (pg::migrate), as the engine does at start.

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/keys.h"
#include "engine/chain/script.h"
#include "engine/chain/tx.h"
#include "storage/pg/connection.h"
#include "storage/pg/migrations.h"
#include "storage/pool/utxo_pool.h"
#include "storage/utxo/utxo_file.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"

namespace raregen::cli {

namespace {

constexpr const char* k_database_env = "DATABASE_URL";
constexpr std::int64_t k_max_money = 21'000'000LL * 100'000'000LL;

struct ImportOptions {
    std::vector<std::string> files;
    std::vector<std::string> outpoints;
    std::string purpose = "publish";
    std::string address;
};

// Connects to $DATABASE_URL and migrates, or says why not (exit code set).
std::optional<pg::Connection> open_database(int& exit_code) {
    const char* url = std::getenv(k_database_env);
    if (url == nullptr || *url == '\0') {
        exit_code = usage_error(
            "DATABASE_URL is not set: set it to the PostgreSQL database the engines share, e.g. "
            "DATABASE_URL=postgres://user@host:5432/raregen (a password is better kept in "
            "~/.pgpass)");
        return std::nullopt;
    }
    pg::Status error;
    auto conn = pg::Connection::try_connect(url, error);
    if (!conn) {
        // try_connect's message is scrubbed of the password already.
        exit_code =
            usage_error("cannot connect to the database in DATABASE_URL: " + error.message());
        return std::nullopt;
    }
    if (const pg::Status st = pg::migrate(*conn); !st.ok()) {
        exit_code = internal_error("bringing the database schema up to date failed: " +
                                   pg::scrub_secrets(st.message(), url));
        return std::nullopt;
    }
    return conn;
}

// "TXID:VOUT:SATS" as typed on the command line.
Parsed<chain::Utxo> parse_outpoint_arg(std::string_view text) {
    using R = Parsed<chain::Utxo>;
    const std::string shown(text);
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') == colon) {
        return R::fail("'" + shown + "' is not TXID:VOUT:SATS (e.g. <64 hex>:0:100)");
    }
    const auto outpoint = chain::parse_outpoint(text.substr(0, colon));
    if (!outpoint) {
        return R::fail("'" + shown +
                       "': TXID must be 64 hex characters (display order) and VOUT a whole "
                       "number below 2^32");
    }
    const std::string_view sats = text.substr(colon + 1);
    std::int64_t value = 0;
    bool digits = !sats.empty() && sats.size() <= 16;
    for (const char c : sats) {
        if (c < '0' || c > '9') digits = false;
    }
    if (digits) {
        for (const char c : sats)
            value = value * 10 + (c - '0');
    }
    if (!digits || value < 1 || value > k_max_money) {
        return R::fail("'" + shown + "': SATS must be a whole number of satoshis, at least 1");
    }
    chain::Utxo u;
    u.outpoint = *outpoint;
    u.value = value;
    return {u, {}};
}

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

    CLI::App* status = group->add_subcommand(
        "status", "Count the utxos table's rows by purpose and status, and leases by instance.");
    status->footer(
        "Environment: DATABASE_URL (required).\nOutput: {total, leasable, by_purpose: {PURPOSE: "
        "{STATUS: {count, dirty, satoshis}}}, leases: [{instance_id, reserved, expired}], "
        "reserved_without_lease}.");
    set_action(*status, [] { return run_status(); });
}

}  // namespace raregen::cli
