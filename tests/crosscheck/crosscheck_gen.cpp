// Generator for the @bsv/sdk cross-check (run_crosscheck.sh, crosscheck.mjs).
//
//   raregen_crosscheck_gen --count N --seed S --out FILE.jsonl [--ef-out FILE.ef]
//                          [--corrupt KIND --corrupt-index I]
//
// Builds and signs N random publication transactions with raregen_chain's
// PublicationBuilder (deterministic for a seed) and writes one JSON object per
// line to --out:
//
//   {"i", "txid", "raw_hex", "ef_hex", "prev_txid", "prev_vout", "prev_value",
//    "prev_script_hex", "fee_rate": {"satoshis", "bytes"}, "change",
//    "change_value", "payload_sizes": [..], "payload_sha256": [..], "raregen"}
//
// txid is in display order; payload_sha256 are hex SHA-256 digests of each
// push as given to the builder (the payloads themselves would double the
// file). No key is ever written. --ef-out also writes the EF hex alone, one
// transaction per line: the second input mode of crosscheck.mjs.
//
// The mix leans toward edges: every push-prefix and CompactSize boundary of
// the data script (0, 1, 75/76, 255/256, 65535/65536 bytes of push; 252/253
// and 65535/65536 bytes of script), exactly 100,000 bytes of payload over one
// and several pushes, zero pushes, the RareGen payload, inputs that exactly
// cover the fee (change of 1 sat), values near the 21e6 BSV cap, odd fee
// rates, uncompressed keys, and large previous-output indexes. Only a few
// dozen transactions carry large payloads, to keep the file near 10 MB.
//
// --corrupt damages one transaction after signing (the first eligible one at
// or after --corrupt-index) so that the check must fail; run_crosscheck.sh
// --self-test uses it to prove the check can fail:
//   sig         flips a bit of the signature's S (still strict DER, still
//               low-S); txid recomputed, so only the script interpreter can
//               notice
//   payload     flips a bit of the last payload byte; txid and payload hash
//               recomputed, so only the interpreter can notice
//   prev_value  adds 1 sat to the spent output's value (in the JSON and the
//               EF) of a transaction without change; the raw transaction and
//               txid are unchanged, the fee still suffices
//   txid        reports a txid with one bit flipped
//   fee         reports a fee rate one satoshi above what the fee paid
// Exit status: 0 on success, 1 if the library refused to build a transaction
// (a bug: the generator only asks for buildable ones), 2 on bad arguments.

#include <CLI/CLI.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/fees.h"
#include "engine/chain/hash.h"
#include "engine/chain/keys.h"
#include "engine/chain/publication.h"
#include "engine/chain/script.h"
#include "engine/chain/tx.h"

namespace {

using namespace raregen::chain;

using raregen::chain::k_max_money;
constexpr std::size_t k_max_payload = PublicationOptions::k_default_max_payload;

// splitmix64: identical on every platform (std distributions are not), so a
// seed names the same transactions everywhere.
class Rng {
  public:
    explicit Rng(std::uint64_t seed) : m_state(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::uint64_t below(std::uint64_t bound) { return next() % bound; }
    std::uint64_t between(std::uint64_t low, std::uint64_t high) {  // inclusive
        return low + below(high - low + 1);
    }
    bool percent(std::uint64_t p) { return below(100) < p; }
    void fill(std::uint8_t* out, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i)
            out[i] = static_cast<std::uint8_t>(next());
    }

  private:
    std::uint64_t m_state;
};

enum class Corrupt : std::uint8_t { none, sig, payload, prev_value, txid, fee };

// How much the spent output holds beyond what the fee (and 1 sat of change) needs.
enum class Funding : std::uint8_t {
    exact,        // nothing: change of exactly 1 sat, or a fee exactly as required
    small_slack,  // up to 500 sat
    large_slack,  // up to 1 BSV
    near_max,     // within 1000 sat of 21e6 BSV
};

// One transaction to build: everything random is decided here.
struct Case {
    std::vector<std::size_t> push_sizes;
    bool raregen = false;  // a single push holding raregen_payload(random hash)
    bool change = false;
    bool compressed = true;
    FeeRate rate{};
    Funding funding = Funding::small_slack;
};

// The fixed edge cases come first, then random ones.
std::vector<Case> fixed_cases() {
    std::vector<Case> out;
    // Push prefixes change at 76, 256 and 65536 bytes; the CompactSize of the
    // data script's length changes at 253 bytes of script (a 249-byte push:
    // 00 6a 4c f9 + 249) and at 65536 (a 65531-byte push: 00 6a 4d fb ff + 65531).
    const std::size_t singles[] = {0,   1,     16,    75,    76,    248,   249,   255,
                                   256, 65530, 65531, 65535, 65536, 99999, 100000};
    for (bool change : {false, true}) {
        for (std::size_t s : singles)
            out.push_back({{s}, false, change});
        out.push_back({{}, false, change});                       // no push at all
        out.push_back({{0, 0, 0}, false, change});                // three empty pushes
        out.push_back({{50000, 50000}, false, change});           // 100,000 over two
        out.push_back({{33333, 33333, 33334}, false, change});    // 100,000 over three
        out.push_back({{0, 100000}, false, change});              // 100,000 after an empty push
        out.push_back({{RaregenPayload::k_size}, true, change});  // the production payload
        Case exact{{RaregenPayload::k_size}, true, change};
        exact.funding = Funding::exact;  // change of exactly 1 sat / fee exactly covered
        out.push_back(exact);
        Case rich{{10}, false, change};
        rich.funding = Funding::near_max;
        out.push_back(rich);
        Case unc{{RaregenPayload::k_size}, true, change};
        unc.compressed = false;
        out.push_back(unc);
        Case min_fee{{0}, false, change};
        min_fee.rate = {0, 1000};  // fee_for() floors at 1 sat
        out.push_back(min_fee);
    }
    return out;
}

std::vector<std::size_t> split(Rng& rng, std::size_t total, std::size_t parts) {
    std::vector<std::size_t> sizes;
    std::size_t left = total;
    for (std::size_t p = 1; p < parts; ++p) {
        const std::size_t s = static_cast<std::size_t>(rng.between(0, left));
        sizes.push_back(s);
        left -= s;
    }
    sizes.push_back(left);
    return sizes;
}

Case random_case(Rng& rng) {
    Case c;
    c.change = rng.percent(50);
    c.compressed = !rng.percent(5);
    const std::uint64_t kind = rng.below(1000);
    if (kind < 150) {
        c.raregen = true;
        c.push_sizes = {RaregenPayload::k_size};
    } else {
        const std::size_t parts = static_cast<std::size_t>(rng.between(0, 3));
        std::size_t total = 0;
        if (kind < 830) {
            total = static_cast<std::size_t>(rng.between(0, 600));
        } else if (kind < 980) {
            total = static_cast<std::size_t>(rng.between(600, 10'000));
        } else {
            total = static_cast<std::size_t>(rng.between(10'000, k_max_payload));
        }
        if (parts == 0) {
            c.push_sizes = {};
        } else {
            c.push_sizes = split(rng, total, parts);
        }
    }
    static constexpr FeeRate k_rates[] = {{1, 1000},   {0, 1000},   {50, 1000},
                                          {101, 1000}, {500, 1000}, {1000, 1000},
                                          {1, 1},      {7, 3},      {250, 1024}};
    if (!rng.percent(60)) c.rate = k_rates[rng.below(std::size(k_rates))];
    const std::uint64_t f = rng.below(100);
    c.funding = f < 15   ? Funding::exact
                : f < 75 ? Funding::small_slack
                : f < 97 ? Funding::large_slack
                         : Funding::near_max;
    return c;
}

// A deterministic key for (seed, index): SHA-256 of both, retried until valid.
PrivateKey key_for(std::uint64_t seed, std::uint64_t index) {
    for (std::uint64_t attempt = 0;; ++attempt) {
        std::uint8_t material[32] = "raregen-crosscheck-key";
        for (int b = 0; b < 8; ++b) {
            material[8 + b] ^= static_cast<std::uint8_t>(seed >> (8 * b));
            material[16 + b] ^= static_cast<std::uint8_t>(index >> (8 * b));
            material[24 + b] ^= static_cast<std::uint8_t>(attempt >> (8 * b));
        }
        const Hash256 secret = sha256(ByteSpan(material, sizeof material));
        if (auto key = PrivateKey::from_bytes(secret)) return *key;
    }
}

void append_json_string(std::string& out, const char* name, const std::string& value) {
    out += '"';
    out += name;
    out += "\":\"";
    out += value;
    out += "\",";
}
void append_json_number(std::string& out, const char* name, std::uint64_t value) {
    out += '"';
    out += name;
    out += "\":";
    out += std::to_string(value);
    out += ',';
}

// Serializes `tx` in both forms and recomputes the txid after a corruption.
void reserialize(const Transaction& tx, Bytes& raw, Bytes& ef, Hash256& txid) {
    raw.clear();
    ef.clear();
    serialize(tx, TxFormat::standard, raw);
    serialize(tx, TxFormat::extended, ef);
    txid = sha256d(raw);
}

struct Args {
    std::uint64_t count = 1200;
    std::uint64_t seed = 1;
    std::string out;
    std::string ef_out;
    Corrupt corrupt = Corrupt::none;
    std::uint64_t corrupt_index = 0;
};

int run(const Args& args) {
    std::ofstream out(args.out, std::ios::binary);
    if (!out) {
        std::cerr << "crosscheck_gen: cannot write " << args.out
                  << ": check the directory exists\n";
        return 2;
    }
    std::ofstream ef_out;
    if (!args.ef_out.empty()) {
        ef_out.open(args.ef_out, std::ios::binary);
        if (!ef_out) {
            std::cerr << "crosscheck_gen: cannot write " << args.ef_out << "\n";
            return 2;
        }
    }

    Rng rng(args.seed);
    const std::vector<Case> fixed = fixed_cases();
    PublicationBuilder builder;
    Bytes raw;
    Bytes ef;
    std::vector<Bytes> payloads;
    std::vector<ByteSpan> spans;
    std::string line;
    bool corrupted = false;
    std::size_t large = 0;

    for (std::uint64_t i = 0; i < args.count; ++i) {
        const Case c = i < fixed.size() ? fixed[i] : random_case(rng);
        const PublicationKey key(key_for(args.seed, i), c.compressed);

        payloads.clear();
        if (c.raregen) {
            Hash256 record_hash;
            rng.fill(record_hash.data(), record_hash.size());
            const RaregenPayload p = raregen_payload(record_hash);
            payloads.emplace_back(p.bytes.begin(), p.bytes.end());
        } else {
            for (std::size_t s : c.push_sizes) {
                Bytes b(s);
                rng.fill(b.data(), b.size());
                payloads.push_back(std::move(b));
            }
        }
        spans.assign(payloads.begin(), payloads.end());
        std::size_t total = 0;
        for (const Bytes& p : payloads)
            total += p.size();
        if (total >= 10'000) ++large;

        Utxo utxo;
        rng.fill(utxo.outpoint.txid.data(), utxo.outpoint.txid.size());
        // @bsv/sdk's fromEF allocates an array of vout+1 entries, so indexes
        // stay below 2^20; values above 255 and 65535 still test byte order.
        const std::uint64_t v = rng.below(100);
        utxo.outpoint.vout = static_cast<std::uint32_t>(v < 60   ? rng.below(4)
                                                        : v < 90 ? rng.below(300)
                                                                 : rng.below(1u << 20));

        PublicationOptions options;
        options.change = c.change;
        options.fee_rate = c.rate;
        // The SDK is shown every input value, huge fees without change
        // included; the builder's fee ceiling has its own test.
        options.fee_ceiling_floor = std::numeric_limits<std::uint64_t>::max();
        const std::uint64_t needed =
            c.rate.fee_for(PublicationBuilder::estimated_size(key, spans, c.change)) +
            (c.change ? 1 : 0);
        std::uint64_t value = needed;
        switch (c.funding) {
            case Funding::exact:
                break;
            case Funding::small_slack:
                value += rng.below(500);
                break;
            case Funding::large_slack:
                value += rng.below(100'000'000);
                break;
            case Funding::near_max:
                value = static_cast<std::uint64_t>(k_max_money) - rng.below(1000);
                break;
        }
        utxo.value = static_cast<std::int64_t>(value);

        const BuildResult res = builder.build(key, utxo, spans, options, raw, &ef);
        if (!res.ok()) {
            std::cerr << "crosscheck_gen: transaction " << i
                      << " was refused by PublicationBuilder: " << build_error_message(res)
                      << " (the generator only asks for buildable transactions: this is a bug)\n";
            return 1;
        }

        Hash256 txid = res.txid;
        std::uint64_t prev_value = value;
        FeeRate reported_rate = c.rate;
        std::vector<Hash256> digests;
        for (const ByteSpan& p : spans)
            digests.push_back(sha256(p));

        if (args.corrupt != Corrupt::none && !corrupted && i >= args.corrupt_index) {
            // payload needs a last push to damage; prev_value needs no change
            // output, or the extra satoshi would also trip the fee check.
            const bool eligible = args.corrupt == Corrupt::payload
                                      ? !payloads.empty() && !payloads.back().empty()
                                  : args.corrupt == Corrupt::prev_value ? !c.change
                                                                        : true;
            if (eligible) {
                Transaction tx;
                if (!parse_transaction(ef, tx).ok()) {
                    std::cerr << "crosscheck_gen: our own EF of transaction " << i
                              << " does not parse: this is a bug in engine/chain\n";
                    return 1;
                }
                switch (args.corrupt) {
                    case Corrupt::sig: {
                        // script_sig = <len> <DER ... s> <sighash byte> <pubkey push>
                        Bytes& s = tx.inputs[0].script_sig;
                        const std::size_t sig_len = s[0];  // DER + sighash byte
                        s[sig_len - 1] ^= 0x01;            // last byte of S
                        reserialize(tx, raw, ef, txid);
                        break;
                    }
                    case Corrupt::payload: {
                        tx.outputs[0].script.back() ^= 0x01;
                        payloads.back().back() ^= 0x01;
                        digests.back() = sha256(payloads.back());
                        reserialize(tx, raw, ef, txid);
                        break;
                    }
                    case Corrupt::prev_value: {
                        tx.inputs[0].prev->value += 1;
                        prev_value += 1;
                        reserialize(tx, raw, ef, txid);
                        break;
                    }
                    case Corrupt::txid:
                        txid[0] ^= 0x01;
                        break;
                    case Corrupt::fee:
                        reported_rate = {res.fee + 1, res.raw_size};
                        break;
                    case Corrupt::none:
                        break;
                }
                corrupted = true;
                std::cerr << "crosscheck_gen: corrupted transaction " << i << "\n";
            }
        }

        line.clear();
        line += '{';
        append_json_number(line, "i", i);
        append_json_string(line, "txid", hash_to_display(txid));
        line += "\"raw_hex\":\"";
        append_hex(raw, line);
        line += "\",\"ef_hex\":\"";
        append_hex(ef, line);
        line += "\",";
        append_json_string(line, "prev_txid", hash_to_display(utxo.outpoint.txid));
        append_json_number(line, "prev_vout", utxo.outpoint.vout);
        append_json_number(line, "prev_value", prev_value);
        append_json_string(line, "prev_script_hex", to_hex(key.locking_script()));
        line += "\"fee_rate\":{\"satoshis\":" + std::to_string(reported_rate.satoshis) +
                ",\"bytes\":" + std::to_string(reported_rate.bytes) + "},";
        line += c.change ? "\"change\":true," : "\"change\":false,";
        append_json_number(line, "change_value", static_cast<std::uint64_t>(res.change));
        line += "\"payload_sizes\":[";
        for (std::size_t k = 0; k < payloads.size(); ++k) {
            if (k > 0) line += ',';
            line += std::to_string(payloads[k].size());
        }
        line += "],\"payload_sha256\":[";
        for (std::size_t k = 0; k < digests.size(); ++k) {
            if (k > 0) line += ',';
            line += '"' + to_hex(digests[k]) + '"';
        }
        line += "],\"raregen\":";
        line += c.raregen ? "true" : "false";
        line += "}\n";
        out.write(line.data(), static_cast<std::streamsize>(line.size()));
        if (ef_out.is_open()) {
            line.clear();
            append_hex(ef, line);
            line += '\n';
            ef_out.write(line.data(), static_cast<std::streamsize>(line.size()));
        }
    }
    out.close();
    if (!out) {
        std::cerr << "crosscheck_gen: writing " << args.out << " failed (disk full?)\n";
        return 1;
    }
    if (ef_out.is_open()) {
        ef_out.close();
        if (!ef_out) {
            std::cerr << "crosscheck_gen: writing " << args.ef_out << " failed (disk full?)\n";
            return 1;
        }
    }
    if (args.corrupt != Corrupt::none && !corrupted) {
        std::cerr << "crosscheck_gen: no transaction at or after index " << args.corrupt_index
                  << " could be corrupted that way: lower --corrupt-index or raise --count\n";
        return 2;
    }
    std::cerr << "crosscheck_gen: wrote " << args.count << " transactions (" << large
              << " with 10,000+ payload bytes) to " << args.out << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Args args;
    CLI::App app{"Writes random signed publication transactions as JSON lines for crosscheck.mjs"};
    app.add_option("--count", args.count, "number of transactions")
        ->check(CLI::Range(1, 1'000'000));
    app.add_option("--seed", args.seed, "random seed (same seed, same transactions)");
    app.add_option("--out", args.out, "JSON lines output file")->required();
    app.add_option("--ef-out", args.ef_out, "also write the EF hex, one transaction per line");
    const std::map<std::string, Corrupt> kinds = {{"sig", Corrupt::sig},
                                                  {"payload", Corrupt::payload},
                                                  {"prev_value", Corrupt::prev_value},
                                                  {"txid", Corrupt::txid},
                                                  {"fee", Corrupt::fee}};
    std::string corrupt;
    app.add_option("--corrupt", corrupt,
                   "damage one transaction after signing (self-test): sig, payload, prev_value, "
                   "txid or fee")
        ->check(CLI::IsMember({"sig", "payload", "prev_value", "txid", "fee"}));
    app.add_option("--corrupt-index", args.corrupt_index,
                   "corrupt the first eligible transaction at or after this index");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    if (!corrupt.empty()) args.corrupt = kinds.at(corrupt);
    return run(args);
}
