// `raregen keys ...`: make a signing key and show what a key's address is;
// manage the signer registry (the registered_keys table) in the database
// named by $DATABASE_URL.
// A private key reaches stdout only with --show-wif; the recommended way to
// keep a new key is --out FILE (created mode 0600, never overwritten unless
// --force).

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/chain/hash.h"
#include "engine/chain/keys.h"
#include "storage/keys/signers.h"
#include "storage/pg/connection.h"
#include "storage/pg/migrations.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"

namespace raregen::cli {

namespace {

namespace ch = raregen::chain;

// The public facts of a key, shared by `generate` and `address`.
Json describe_key(const ch::PrivateKey& key, ch::Network net, bool compressed) {
    const ch::PublicKey pub = ch::public_key_of(key, compressed);
    const ch::Hash160 hash = ch::hash160(pub.span());
    Json j;
    j["address"] = ch::p2pkh_address(hash, net);
    j["pubkey"] = ch::to_hex(pub.span());
    j["pubkey_hash"] = ch::to_hex(hash);
    j["network"] = ch::network_name(net);
    j["compressed"] = compressed;
    return j;
}

struct GenerateOptions {
    bool testnet = false;
    bool show_wif = false;
    std::string out;
    bool force = false;
};

int run_generate(const GenerateOptions& o) {
    const ch::Network net = o.testnet ? ch::Network::testnet : ch::Network::mainnet;
    const ch::PrivateKey key = ch::PrivateKey::generate();  // throws only if the CSPRNG fails
    Json j = describe_key(key, net, true);
    if (!o.out.empty() || o.show_wif) {
        const Secret wif(ch::encode_wif(key, net, true));
        if (!o.out.empty()) {
            const WriteOutcome written = write_secret_file(o.out, wif.view(), o.force);
            if (!written.ok()) {
                if (written.exit_code == k_exit_usage) return usage_error(written.error);
                return internal_error(written.error);
            }
            j["wif_file"] = o.out;
        }
        if (o.show_wif) j["wif"] = std::string(wif.view());
    } else {
        warn(
            "the private key was not saved, so this address can never be spent from; pass "
            "--out FILE to keep it");
    }
    return print_json(j);
}

void add_generate(CLI::App& keys) {
    auto o = std::make_shared<GenerateOptions>();
    CLI::App* sub = keys.add_subcommand(
        "generate", "Generate a new private key (compressed) from the OS random generator.");
    sub->add_flag("--testnet", o->testnet, "Make a testnet/regtest key (default: mainnet).");
    auto* out = sub->add_option("--out", o->out,
                                "Write the WIF to this new file, created with mode 0600 "
                                "(recommended way to keep the key). Refuses an existing file.")
                    ->type_name("FILE");
    sub->add_flag("--force", o->force,
                  "With --out: replace an existing file (atomically; the old key is lost).")
        ->needs(out);
    sub->add_flag("--show-wif", o->show_wif,
                  "Also print the WIF private key on stdout. Anything that sees the output "
                  "(terminal scrollback, logs) then holds the key.");
    sub->footer(
        "Output: {address, pubkey, pubkey_hash, network, compressed, wif_file (with "
        "--out), wif (with --show-wif only)}.");
    set_action(*sub, [o] { return run_generate(*o); });
}

void add_address(CLI::App& keys) {
    auto o = std::make_shared<WifOptions>();
    CLI::App* sub = keys.add_subcommand(
        "address", "Show the P2PKH address and public key of a WIF private key.");
    add_wif_options(*sub, *o);
    sub->footer(sub->get_footer() +
                "\nOutput: {address, pubkey, pubkey_hash, network, compressed}.");
    set_action(*sub, [o] {
        auto key = load_wif(*o);
        if (!key) return usage_error(key.error);
        return print_json(describe_key(key.value->key, key.value->network, key.value->compressed));
    });
}

// ---- the signer registry (register / revoke / list) ----

constexpr const char* k_database_env = "DATABASE_URL";

constexpr const char* k_database_footer =
    "The database is the PostgreSQL server named by $DATABASE_URL (required; a temporary "
    "embedded one would vanish with its keys when the command exits). Its schema is migrated "
    "first. A running engine sees changes at its next start. Exit 2: bad input; exit 1: the "
    "database could not be reached or refused a statement.";

// Connects to $DATABASE_URL, migrates, and runs `fn` on the connection.
// Errors never show the connection string (pg's messages are scrubbed and
// name the target by describe_target()).
int with_database(const std::function<int(pg::Connection&)>& fn) {
    const char* url = std::getenv(k_database_env);
    if (url == nullptr || *url == '\0') {
        return usage_error(
            "DATABASE_URL is not set; set it to the PostgreSQL server that holds the signer "
            "registry (e.g. postgres://user@host:5432/raregen, password in ~/.pgpass). "
            "These commands do not start a temporary embedded database: it and its keys "
            "would vanish when the command exits");
    }
    pg::Status error;
    std::optional<pg::Connection> conn = pg::Connection::try_connect(url, error);
    if (!conn) return internal_error(error.message());
    if (const pg::Status migrated = pg::migrate(*conn); !migrated.ok()) {
        return internal_error("cannot bring the database schema (" + pg::describe_target(url) +
                              ") up to date: " + migrated.message());
    }
    return fn(*conn);
}

// Which signer a register/revoke command names.
struct SignerKeyOptions {
    std::string pubkey;    // --pubkey HEX
    std::string key_file;  // --key-file FILE (a WIF)
};

void add_signer_key_options(CLI::App& sub, SignerKeyOptions& o) {
    auto* pubkey = sub.add_option("--pubkey", o.pubkey,
                                  "The signer's compressed public key: 66 hex digits, 02/03 "
                                  "first (`raregen keys address` shows a key's).")
                       ->type_name("HEX");
    auto* file = sub.add_option("--key-file", o.key_file,
                                "Take the public key of the WIF private key in this file "
                                "(mode 0600, `raregen keys generate --out`).")
                     ->type_name("FILE");
    pubkey->excludes(file);
    file->excludes(pubkey);
}

Parsed<ingest::CompressedPubkey> signer_key(const SignerKeyOptions& o) {
    using R = Parsed<ingest::CompressedPubkey>;
    if (!o.key_file.empty()) {
        WifOptions wif;
        wif.wif_file = o.key_file;
        auto key = load_wif(wif);
        if (!key) return R::fail(key.error);
        if (!key.value->compressed) {
            return R::fail("the key in " + o.key_file +
                           " is an uncompressed WIF; intents are signed by compressed keys "
                           "only: use a compressed key (`raregen keys generate` makes one)");
        }
        const ch::PublicKey pub = ch::public_key_of(key.value->key, true);
        ingest::CompressedPubkey out{};
        std::copy(pub.bytes.begin(), pub.bytes.begin() + 33, out.begin());
        return {out, {}};
    }
    if (o.pubkey.empty()) {
        return R::fail(
            "no signer given: pass --pubkey HEX (the compressed public key) or --key-file "
            "FILE (the signer's WIF private key file)");
    }
    std::string_view hex = o.pubkey;
    while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.front())))
        hex.remove_prefix(1);
    while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back())))
        hex.remove_suffix(1);
    std::string why;
    const auto key = keys::parse_compressed_pubkey(hex, &why);
    if (!key) return R::fail("--pubkey: " + why);
    return {*key, {}};
}

std::string pubkey_hex(const ingest::CompressedPubkey& key) {
    return ch::to_hex(ch::ByteSpan(key.data(), key.size()));
}

struct RegisterOptions {
    SignerKeyOptions key;
    std::optional<std::string> policy;
};

int run_register(const RegisterOptions& o) {
    const auto key = signer_key(o.key);
    if (!key) return usage_error(key.error);
    if (o.policy && !nlohmann::json::accept(*o.policy)) {
        return usage_error(
            "--policy is not valid JSON; pass one JSON value, e.g. --policy '{\"note\":\"x\"}'");
    }
    return with_database([&](pg::Connection& conn) {
        const keys::RegisterResult r = keys::register_signer(
            conn, *key.value, o.policy ? std::optional<std::string_view>(*o.policy) : std::nullopt);
        if (!r.ok()) return internal_error(r.status.message());
        Json j;
        j["pubkey"] = pubkey_hex(*key.value);
        j["outcome"] = keys::register_outcome_name(r.outcome);
        j["status"] = "active";
        if (o.policy) j["policy"] = Json::parse(*o.policy);
        return print_json(j);
    });
}

void add_register(CLI::App& keys) {
    auto o = std::make_shared<RegisterOptions>();
    CLI::App* sub = keys.add_subcommand(
        "register", "Register a signer (or reactivate a revoked one) in the signer registry.");
    add_signer_key_options(*sub, o->key);
    sub->add_option("--policy", o->policy,
                    "JSON stored as the key's policy_json; replaces a stored one (kept if "
                    "omitted).")
        ->type_name("JSON");
    sub->footer(std::string("Give exactly one of --pubkey or --key-file.\n") +
                "Output: {pubkey, outcome: registered|reactivated|already_active, status, "
                "policy (with --policy)}.\n" +
                k_database_footer);
    set_action(*sub, [o] { return run_register(*o); });
}

int run_revoke(const SignerKeyOptions& o) {
    const auto key = signer_key(o);
    if (!key) return usage_error(key.error);
    return with_database([&](pg::Connection& conn) {
        const keys::RevokeResult r = keys::revoke_signer(conn, *key.value);
        if (r.outcome == keys::RevokeOutcome::not_registered) {
            return usage_error(r.status.message());
        }
        if (!r.ok()) return internal_error(r.status.message());
        Json j;
        j["pubkey"] = pubkey_hex(*key.value);
        j["outcome"] = keys::revoke_outcome_name(r.outcome);
        j["status"] = "revoked";
        return print_json(j);
    });
}

void add_revoke(CLI::App& keys) {
    auto o = std::make_shared<SignerKeyOptions>();
    CLI::App* sub = keys.add_subcommand(
        "revoke", "Revoke a registered signer: it stays known, and its intents are refused.");
    add_signer_key_options(*sub, *o);
    sub->footer(std::string("Give exactly one of --pubkey or --key-file. An unknown key exits "
                            "2.\n") +
                "Output: {pubkey, outcome: revoked|already_revoked, status}.\n" +
                k_database_footer);
    set_action(*sub, [o] { return run_revoke(*o); });
}

int run_list() {
    return with_database([](pg::Connection& conn) {
        const keys::SignerList list = keys::list_signers(conn);
        if (!list.ok()) return internal_error(list.status.message());
        Json out = Json::array();
        for (const keys::SignerRow& s : list.signers) {
            Json j;
            j["pubkey"] = s.pubkey_hex;
            j["status"] = s.status ? Json(*s.status) : Json(nullptr);
            j["active"] = s.active();
            // jsonb's text is JSON; kept as a string should it ever not parse.
            Json policy = nullptr;
            if (s.policy_json) {
                policy = Json::parse(*s.policy_json, nullptr, false);
                if (policy.is_discarded()) policy = *s.policy_json;
            }
            j["policy"] = std::move(policy);
            out.push_back(std::move(j));
        }
        return print_json(out);
    });
}

void add_list(CLI::App& keys) {
    CLI::App* sub = keys.add_subcommand("list", "List the signer registry.");
    sub->footer(std::string("Output: a JSON array of {pubkey, status, active, policy}, ordered "
                            "by pubkey; status is as stored (active may publish, anything else "
                            "may not).\n") +
                k_database_footer);
    set_action(*sub, [] { return run_list(); });
}

}  // namespace

void register_keys_commands(CLI::App& app) {
    CLI::App* keys = app.add_subcommand(
        "keys", "Generate keys, derive addresses, and manage the signer registry.");
    keys->require_subcommand(1);
    add_generate(*keys);
    add_address(*keys);
    add_register(*keys);
    add_revoke(*keys);
    add_list(*keys);
}

}  // namespace raregen::cli
