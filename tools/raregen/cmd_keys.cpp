// `raregen keys ...`: make a signing key and show what a key's address is.
// A private key reaches stdout only with --show-wif; the recommended way to
// keep a new key is --out FILE (created mode 0600, never overwritten unless
// --force).

#include <memory>
#include <string>

#include "engine/chain/hash.h"
#include "engine/chain/keys.h"
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

}  // namespace

void register_keys_commands(CLI::App& app) {
    CLI::App* keys = app.add_subcommand("keys", "Generate keys and derive addresses.");
    keys->require_subcommand(1);
    add_generate(*keys);
    add_address(*keys);
}

}  // namespace raregen::cli
