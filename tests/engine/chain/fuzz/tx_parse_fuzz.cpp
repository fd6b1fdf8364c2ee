// libFuzzer target for the chain model's parsers (style.md: a fuzzer for
// every parser). Each input is used twice:
// - as transaction bytes: parse_transaction must never read out of bounds,
//   and whatever it accepts must re-serialize, in the format it detected, to
//   exactly the input; every script it yields goes through the script
//   parsers, every input through the sighash (and, for EF, P2PKH checks);
// - as text: the base58/WIF/address, outpoint, fee-rate and hex parsers, each
//   checked to round-trip what it accepts.
// A failed check calls abort() so libFuzzer records the input as a crash.
//
// Run by ctest as fuzz.tx_parse (see CMakeLists.txt), or by hand:
//   raregen_chain_fuzz CORPUS_DIR -dict=tx_parse.dict -max_total_time=180
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chain/base58.h"
#include "engine/chain/bytes.h"
#include "engine/chain/fees.h"
#include "engine/chain/keys.h"
#include "engine/chain/script.h"
#include "engine/chain/sighash.h"
#include "engine/chain/tx.h"
#include "engine/chain/verify.h"

namespace {

using namespace raregen::chain;

// Bounds the per-input work for transactions with many inputs.
constexpr std::size_t k_max_inputs_checked = 8;
// Text the text parsers are meant for is short (a WIF is 52 characters, an
// outpoint 66+); base58 decoding is quadratic, so longer inputs would only
// slow the search down.
constexpr std::size_t k_max_text = 1024;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "tx_parse_fuzz: check failed: %s\n", what);
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok) fail(what);
}

bool within(ByteSpan inner, ByteSpan outer) {
    return inner.empty() || (inner.data() >= outer.data() &&
                             inner.data() + inner.size() <= outer.data() + outer.size());
}

void check_script(ByteSpan script) {
    const ScriptType type = classify_script(script);
    Hash160 hash{};
    check((type == ScriptType::p2pkh) == parse_p2pkh_locking_script(script, hash),
          "classify_script p2pkh agrees with parse_p2pkh_locking_script");
    if (type == ScriptType::p2pkh) {
        const P2pkhScript again = p2pkh_locking_script(hash);
        check(ByteSpan(again).size() == script.size() &&
                  std::equal(again.begin(), again.end(), script.begin()),
              "P2PKH script rebuilt from its hash");
    }
    std::vector<ByteSpan> pushes;
    const bool data = parse_data_script(script, pushes);
    check(type == ScriptType::p2pkh || (type == ScriptType::data) == data,
          "classify_script data agrees with parse_data_script");
    if (parse_pushes(script, pushes)) {
        // Pushes lie inside the script, in order, without overlap.
        const std::uint8_t* end = script.data();
        for (const ByteSpan& p : pushes) {
            check(within(p, script), "push inside its script");
            if (!p.empty()) {
                check(p.data() >= end, "pushes in order");
                end = p.data() + p.size();
            }
        }
    }
}

void check_transaction(ByteSpan data) {
    Transaction tx;
    const ParseResult res = parse_transaction(data, tx);
    if (!res.ok()) {
        check(res.offset <= data.size(), "error offset inside the data");
        return;
    }
    Bytes again;
    check(serialize(tx, res.format, again), "serialize accepts a parsed transaction");
    check(again.size() == data.size() && std::equal(again.begin(), again.end(), data.begin()),
          "re-serialization equals the input");
    const Bytes standard = serialize(tx);
    check(standard.size() == standard_size(tx), "standard_size matches serialize");
    if (res.format == TxFormat::standard) {
        check(standard == again, "standard form is the input");
    } else {
        // The standard form of an EF transaction parses back as standard,
        // including the 10-byte one that looks like an EF header.
        Transaction plain;
        const ParseResult back = parse_transaction(standard, plain);
        check(back.ok() && back.format == TxFormat::standard, "standard form of an EF tx parses");
    }

    for (const TxIn& in : tx.inputs) {
        check_script(in.script_sig);
        if (in.prev) check_script(in.prev->script);
    }
    for (const TxOut& out : tx.outputs)
        check_script(out.script);

    if (tx.inputs.empty()) return;
    const SighashCache cache = SighashCache::compute(tx);
    const std::size_t n = std::min(tx.inputs.size(), k_max_inputs_checked);
    for (std::size_t i = 0; i < n; ++i) {
        const TxIn& in = tx.inputs[i];
        // Every base type and flag combination, chosen by the input itself.
        const std::uint32_t type = in.sequence & 0xff;
        const ByteSpan code = in.prev ? ByteSpan(in.prev->script) : ByteSpan(in.script_sig);
        const std::int64_t amount = in.prev ? in.prev->value : 0;
        const Hash256 cached = signature_hash(tx, cache, i, code, amount, type);
        check(cached == signature_hash(tx, i, code, amount, type),
              "sighash with and without a cache agree");
        if (in.prev) {
            const InputVerifyError e = verify_p2pkh_input(tx, cache, i, *in.prev);
            check(!input_verify_message(e).empty(), "verify error has a message");
        }
    }
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

void check_text(std::string_view text) {
    if (auto raw = base58_decode(text)) {
        check(base58_encode(*raw) == text, "base58 decode/encode round trip");
    }
    if (auto payload = base58check_decode(text)) {
        check(base58check_encode(*payload) == text, "base58check decode/encode round trip");
    }
    const WifResult wif = decode_wif(text);
    if (wif.key) {
        check(encode_wif(wif.key->key, wif.key->network, wif.key->compressed) == text,
              "WIF decode/encode round trip");
    } else {
        check(!wif_error_message(wif.error).empty(), "WIF error has a message");
    }
    if (auto address = decode_p2pkh_address(text)) {
        check(p2pkh_address(address->hash, address->network) == text,
              "address decode/encode round trip");
    }
    if (auto outpoint = parse_outpoint(text)) {
        const auto again = parse_outpoint(format_outpoint(*outpoint));
        check(again && *again == *outpoint, "outpoint format/parse round trip");
    }
    if (auto rate = parse_fee_rate(text)) {
        check(rate->bytes > 0, "fee rate bytes > 0");
        const auto again = parse_fee_rate(rate->to_string());
        check(again && again->satoshis == rate->satoshis && again->bytes == rate->bytes,
              "fee rate to_string/parse round trip");
        // No overflow for any size up to 4 GB: the fee grows with the size.
        const std::uint64_t big = 0xffffffffULL;
        check(rate->fee_for(big) >= rate->fee_for(1) && rate->fee_for(1) >= 1,
              "fee_for monotonic and at least 1");
        check(rate->at_least(*rate), "a rate is at least itself");
    }
    if (auto bytes = from_hex(text)) {
        check(to_hex(*bytes) == lower(text), "hex round trip");
    }
    if (auto hash = hash_from_display(text)) {
        check(hash_to_display(*hash) == lower(text), "display hash round trip");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    check_transaction(ByteSpan(data, size));
    if (size <= k_max_text) check_text(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
