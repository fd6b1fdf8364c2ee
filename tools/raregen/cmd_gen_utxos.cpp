// `raregen gen utxos N --key-file FILE --out FILE`: a UTXO file of N fake but
// well-formed outpoints for a key, in the format storage/utxo/utxo_file.h
// reads, so the engine and its benchmarks can run against the local network
// without a funded wallet.
//
// The outpoints look like the outputs of split transactions: each fake txid
// carries k_outputs_per_txid outputs (vout 0..999), as the replenisher's
// splits do. A txid is SHA-256 of a fixed tag, the key's HASH160, the seed
// and the split's number, so the same key, seed and N always give the same
// file, and different keys or seeds never share an outpoint.

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "engine/chain/fees.h"
#include "engine/chain/hash.h"
#include "engine/chain/keys.h"
#include "engine/chain/publication.h"
#include "engine/chain/tx.h"
#include "storage/utxo/utxo_file.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"

namespace raregen::cli {

namespace {

namespace ch = raregen::chain;

constexpr std::uint64_t k_max_count = 100'000'000;  // about 8 GB of text
using raregen::chain::k_max_money;
constexpr std::uint64_t k_outputs_per_txid = 1000;
constexpr char k_tag[] = "raregen fake utxo v1";

struct GenUtxosOptions {
    std::uint64_t count = 0;
    std::string key_file;
    std::int64_t value = 100;
    std::uint64_t seed = 0;
    std::string out;
    bool force = false;
};

void append_le64(ch::Sha256& h, std::uint64_t v) {
    std::uint8_t le[8];
    for (int b = 0; b < 8; ++b)
        le[b] = static_cast<std::uint8_t>(v >> (8 * b));
    h.update(le, 8);
}

ch::Utxo fake_utxo(const ch::Hash160& owner, std::uint64_t seed, std::uint64_t i,
                   std::int64_t value) {
    ch::Sha256 h;
    h.update(k_tag, sizeof(k_tag) - 1);
    h.update(owner);
    append_le64(h, seed);
    append_le64(h, i / k_outputs_per_txid);
    ch::Utxo u;
    u.outpoint.txid = h.finalize();
    u.outpoint.vout = static_cast<std::uint32_t>(i % k_outputs_per_txid);
    u.value = value;
    return u;
}

// Writes the file next to its destination, then moves it into place, so a
// reader never sees half a file. Without `overwrite` an existing file is
// kept (link() refuses atomically).
WriteOutcome write_file(const GenUtxosOptions& o, const std::string& header,
                        const ch::Hash160& owner) {
    const auto fail = [](int code, std::string message) {
        return WriteOutcome{code, std::move(message)};
    };
    std::string dir = std::filesystem::path(o.out).parent_path().string();
    if (dir.empty()) dir = ".";
    const std::string tmp = o.out + ".tmp-" + std::to_string(::getpid());
    std::FILE* f = std::fopen(tmp.c_str(), "wx");
    if (f == nullptr) {
        return fail(k_exit_usage, "cannot create a file in " + dir + ": " + std::strerror(errno) +
                                      "; check the directory exists and is writable");
    }
    bool ok = std::fputs(header.c_str(), f) >= 0;
    std::string line;
    for (std::uint64_t i = 0; ok && i < o.count; ++i) {
        line = utxo::format_utxo_line(fake_utxo(owner, o.seed, i, o.value));
        line += '\n';
        ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
    }
    const int write_errno = errno;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
        std::remove(tmp.c_str());
        return fail(k_exit_internal, "cannot write " + o.out + ": " + std::strerror(write_errno) +
                                         "; check free disk space");
    }
    if (o.force) {
        if (std::rename(tmp.c_str(), o.out.c_str()) != 0) {
            const int err = errno;
            std::remove(tmp.c_str());
            return fail(k_exit_usage, "cannot replace " + o.out + ": " + std::strerror(err));
        }
        return {};
    }
    if (::link(tmp.c_str(), o.out.c_str()) != 0) {
        const int err = errno;
        std::remove(tmp.c_str());
        if (err == EEXIST) {
            return fail(
                k_exit_usage,
                o.out + " already exists; pass --force to replace it, or choose another path");
        }
        return fail(k_exit_usage, "cannot create " + o.out + ": " + std::strerror(err));
    }
    std::remove(tmp.c_str());
    return {};
}

int run_gen_utxos(const GenUtxosOptions& o) {
    if (static_cast<std::uint64_t>(o.value) > static_cast<std::uint64_t>(k_max_money) / o.count) {
        return usage_error("N x --value exceeds 21,000,000 BSV; lower N or --value");
    }
    if (!o.force && std::filesystem::exists(o.out)) {
        return usage_error(o.out +
                           " already exists; pass --force to replace it, or choose another path");
    }
    WifOptions wif;
    wif.wif_file = o.key_file;
    auto key = load_wif(wif);
    if (!key) return usage_error(key.error);
    const ch::PublicationKey pkey(key.value->key, key.value->compressed);
    const std::string address = ch::p2pkh_address(pkey.pubkey_hash(), key.value->network);

    // Warn when a UTXO cannot fund one RareGen publication at the default fee rate.
    const ch::RaregenPayload payload = ch::raregen_payload(ch::Hash256{});
    const ch::ByteSpan pushes[1] = {payload.span()};
    const ch::FeeRate rate{};  // docs/protocol.md §4: 100 sat per 1000 bytes
    const std::string rate_text =
        std::to_string(rate.satoshis) + " sat per " + std::to_string(rate.bytes) + " bytes";
    const std::uint64_t fee =
        rate.fee_for(ch::PublicationBuilder::estimated_size(pkey, pushes, false));
    const std::uint64_t fee_change =
        rate.fee_for(ch::PublicationBuilder::estimated_size(pkey, pushes, true));
    const auto value = static_cast<std::uint64_t>(o.value);
    if (value < fee) {
        warn("each UTXO (" + std::to_string(value) + " sat) is below the " + std::to_string(fee) +
             " sat fee of one publication at " + rate_text +
             ", so every job would fail; raise --value");
    } else if (value < fee_change + 1) {
        warn("each UTXO (" + std::to_string(value) +
             " sat) pays a publication's fee but leaves no " +
             "change: run the engine with change off, or raise --value above " +
             std::to_string(fee_change));
    }

    const std::string header =
        "# raregen gen utxos: " + std::to_string(o.count) + " FAKE outpoints of " +
        std::to_string(o.value) + " sat for " + address + " (" +
        std::string(ch::network_name(key.value->network)) + "), seed " + std::to_string(o.seed) +
        "\n# They exist on no chain: for the local network and benchmarks only.\n";
    if (const WriteOutcome w = write_file(o, header, pkey.pubkey_hash()); !w.ok()) {
        return w.exit_code == k_exit_usage ? usage_error(w.error) : internal_error(w.error);
    }

    Json j;
    j["out"] = o.out;
    j["count"] = o.count;
    j["value"] = o.value;
    j["total_value"] = static_cast<std::uint64_t>(o.value) * o.count;
    j["address"] = address;
    j["network"] = ch::network_name(key.value->network);
    j["seed"] = o.seed;
    j["outputs_per_txid"] = k_outputs_per_txid;
    j["first"] = ch::format_outpoint(fake_utxo(pkey.pubkey_hash(), o.seed, 0, o.value).outpoint);
    j["fake"] = true;
    return print_json(j);
}

}  // namespace

CLI::App& gen_command(CLI::App& app) {
    const auto found = app.get_subcommands(
        std::function<bool(CLI::App*)>([](CLI::App* sub) { return sub->get_name() == "gen"; }));
    if (!found.empty()) return *found.front();
    CLI::App* gen = app.add_subcommand("gen", "Generate inputs for local runs and benchmarks.");
    gen->require_subcommand(1);
    return *gen;
}

void register_gen_utxos_command(CLI::App& app) {
    auto o = std::make_shared<GenUtxosOptions>();
    CLI::App* sub = gen_command(app).add_subcommand(
        "utxos",
        "Write a UTXO file of N fake but well-formed outpoints paying a key (for the local "
        "network and benchmarks; they exist on no chain).");
    sub->add_option("N", o->count, "How many UTXOs to write.")
        ->required()
        ->check(CLI::Range(std::uint64_t{1}, k_max_count));
    sub->add_option("--key-file", o->key_file,
                    "File holding the WIF key the outputs pay (mode 0600; `raregen keys generate "
                    "--out FILE` makes one).")
        ->required()
        ->type_name("FILE");
    sub->add_option("--value", o->value, "Value of each UTXO in satoshis.")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{1}, k_max_money))
        ->type_name("SATS");
    sub->add_option("--seed", o->seed, "Makes a different set of outpoints for the same key.")
        ->capture_default_str()
        ->type_name("S");
    sub->add_option("--out", o->out, "The UTXO file to write (one `TXID:VOUT SATOSHIS` per line).")
        ->required()
        ->type_name("FILE");
    sub->add_flag("--force", o->force, "Replace --out if it exists.");
    sub->footer(
        "Output: {out, count, value, total_value, address, network, seed, outputs_per_txid, "
        "first, fake}.");
    set_action(*sub, [o] { return run_gen_utxos(*o); });
}

}  // namespace raregen::cli
