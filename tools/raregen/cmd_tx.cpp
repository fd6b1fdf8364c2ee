// `raregen tx ...`: decode, sighash, sign and verify transactions with the
// chain model (engine/chain). This file only turns command-line input into
// chain calls and their results into JSON; every protocol rule lives in
// engine/chain.

#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/fees.h"
#include "engine/chain/keys.h"
#include "engine/chain/publication.h"
#include "engine/chain/script.h"
#include "engine/chain/sighash.h"
#include "engine/chain/tx.h"
#include "engine/chain/verify.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"

namespace raregen::cli {

namespace {

namespace ch = raregen::chain;

// The most any output (or the sum of a transaction's outputs) may carry.
using raregen::chain::k_max_money;

std::string_view trim(std::string_view s) {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && space(s.back()))
        s.remove_suffix(1);
    return s;
}

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(ch::ByteSpan s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const std::uint8_t c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t extra = 0;
        std::uint32_t cp = 0;
        if ((c & 0xe0) == 0xc0) {
            extra = 1;
            cp = c & 0x1fu;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2;
            cp = c & 0x0fu;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (s.size() - i <= extra) return false;
        for (std::size_t k = 1; k <= extra; ++k) {
            const std::uint8_t b = s[i + k];
            if ((b & 0xc0) != 0x80) return false;
            cp = cp << 6 | (b & 0x3fu);
        }
        const std::uint32_t min_for_length[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_for_length[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

std::string as_string(ch::ByteSpan s) {
    return {s.begin(), s.end()};
}

// ---- reading a transaction ----

struct LoadedTx {
    ch::Transaction tx;
    ch::TxFormat format = ch::TxFormat::standard;
    std::size_t given_size = 0;  // bytes as given: the EF size for an EF transaction
};

Parsed<LoadedTx> load_tx(std::string_view text, std::string_view what) {
    using R = Parsed<LoadedTx>;
    auto bytes = read_hex_arg(text, what);
    if (!bytes) return R::fail(bytes.error);
    if (bytes.value->empty())
        return R::fail(std::string(what) + " is empty; give a raw or EF transaction in hex");
    LoadedTx loaded;
    const ch::ParseResult r = ch::parse_transaction(*bytes.value, loaded.tx);
    if (!r.ok())
        return R::fail("cannot parse " + std::string(what) +
                       " as a transaction: " + std::string(ch::parse_error_message(r.code)) +
                       ", at byte offset " + std::to_string(r.offset) +
                       "; check the hex is one complete raw or EF transaction");
    loaded.format = r.format;
    loaded.given_size = bytes.value->size();
    return {std::move(loaded), {}};
}

// ---- tx decode ----

Json output_json(const ch::TxOut& out) {
    Json j;
    j["value"] = out.value;
    j["script"] = ch::to_hex(out.script);
    const ch::ScriptType type = ch::classify_script(out.script);
    j["type"] = ch::script_type_name(type);
    if (type == ch::ScriptType::p2pkh) {
        ch::Hash160 hash{};
        ch::parse_p2pkh_locking_script(out.script, hash);
        j["pubkey_hash"] = ch::to_hex(hash);
        // The transaction does not say which network it is for: give both.
        j["addresses"] = {{"mainnet", ch::p2pkh_address(hash, ch::Network::mainnet)},
                          {"testnet", ch::p2pkh_address(hash, ch::Network::testnet)}};
    } else if (type == ch::ScriptType::data) {
        std::vector<ch::ByteSpan> pushes;
        ch::parse_data_script(out.script, pushes);
        Json list = Json::array();
        for (const ch::ByteSpan& p : pushes) {
            Json push;
            push["hex"] = ch::to_hex(p);
            push["utf8"] = valid_utf8(p) ? Json(as_string(p)) : Json(nullptr);
            list.push_back(std::move(push));
        }
        j["pushes"] = std::move(list);
    }
    return j;
}

Json decode_json(const LoadedTx& loaded) {
    const ch::Transaction& tx = loaded.tx;
    const bool ef = loaded.format == ch::TxFormat::extended;
    Json j;
    j["txid"] = ch::hash_to_display(ch::compute_txid(tx));
    j["size"] = ch::standard_size(tx);
    j["format"] = ef ? "extended" : "standard";
    if (ef) j["ef_size"] = loaded.given_size;
    j["version"] = tx.version;
    j["locktime"] = tx.lock_time;
    Json inputs = Json::array();
    for (const ch::TxIn& in : tx.inputs) {
        Json i;
        i["prev_txid"] = ch::hash_to_display(in.prevout.txid);
        i["prev_vout"] = in.prevout.vout;
        i["script"] = ch::to_hex(in.script_sig);
        i["sequence"] = in.sequence;
        if (in.prev) {
            i["prev_value"] = in.prev->value;
            i["prev_script"] = ch::to_hex(in.prev->script);
        }
        inputs.push_back(std::move(i));
    }
    j["inputs"] = std::move(inputs);
    Json outputs = Json::array();
    for (const ch::TxOut& out : tx.outputs)
        outputs.push_back(output_json(out));
    j["outputs"] = std::move(outputs);
    return j;
}

void add_decode(CLI::App& tx) {
    auto hex = std::make_shared<std::string>();
    CLI::App* sub =
        tx.add_subcommand("decode", "Decode a raw or Extended Format (EF) transaction into JSON.");
    sub->add_option("HEX", *hex, "The transaction in hex, raw or EF; '-' reads it from stdin.")
        ->required();
    sub->footer(
        "Output: {txid, size (standard size), format (standard|extended), ef_size (EF only), "
        "version, locktime, inputs: [{prev_txid, prev_vout, script, sequence, prev_value and "
        "prev_script (EF only)}], outputs: [{value, script, type (p2pkh|data|other), "
        "pubkey_hash and addresses {mainnet, testnet} (p2pkh), pushes: [{hex, utf8 (null unless "
        "valid UTF-8)}] (data)}]}.");
    set_action(*sub, [hex] {
        auto loaded = load_tx(*hex, "HEX");
        if (!loaded) return usage_error(loaded.error);
        return print_json(decode_json(*loaded.value));
    });
}

// ---- tx sighash ----

// Decimal (a negative value is a signed 32-bit type, cast to uint32 as the
// reference vectors do: -1 is 0xffffffff) or 0x-prefixed hex.
std::optional<std::uint32_t> parse_sighash_type(std::string_view text) {
    text = trim(text);
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        const std::string_view digits = text.substr(2);
        std::uint32_t v = 0;
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, 16);
        if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
        return v;
    }
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
    if (v < std::numeric_limits<std::int32_t>::min() ||
        v > std::numeric_limits<std::uint32_t>::max())
        return std::nullopt;
    return static_cast<std::uint32_t>(v);
}

std::string hex32(std::uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

struct SighashOptions {
    std::string tx;
    std::size_t input = 0;
    std::string script;
    std::int64_t amount = 0;
    std::string type = "0x41";
    CLI::Option* script_opt = nullptr;
    CLI::Option* amount_opt = nullptr;
};

int run_sighash(const SighashOptions& o) {
    auto loaded = load_tx(o.tx, "--tx");
    if (!loaded) return usage_error(loaded.error);
    const ch::Transaction& tx = loaded.value->tx;
    if (o.input >= tx.inputs.size())
        return usage_error("--input " + std::to_string(o.input) +
                           " is out of range: the transaction has " +
                           std::to_string(tx.inputs.size()) + " input(s), numbered from 0");
    const auto type = parse_sighash_type(o.type);
    if (!type)
        return usage_error("--type '" + o.type +
                           "' is not a sighash type; give a 32-bit number in decimal "
                           "(negative allowed, e.g. -1) or 0x-hex (e.g. 0x41)");
    const std::optional<ch::TxOut>& prev = tx.inputs[o.input].prev;
    ch::Bytes script;
    if (o.script_opt->count() > 0) {
        auto parsed = parse_hex(o.script, "--script");
        if (!parsed) return usage_error(parsed.error);
        script = std::move(*parsed.value);
    } else if (prev) {
        script = prev->script;
    } else {
        return usage_error(
            "--script is required: the transaction is not EF, so it does not "
            "carry the spent output's locking script");
    }
    std::int64_t amount = 0;
    if (o.amount_opt->count() > 0) {
        amount = o.amount;
    } else if (prev) {
        amount = prev->value;
    } else {
        return usage_error(
            "--amount is required: the transaction is not EF, so it does not "
            "carry the spent output's value");
    }
    const ch::Hash256 digest = ch::signature_hash(tx, o.input, script, amount, *type);
    Json j;
    j["digest_internal"] = ch::to_hex(digest);
    j["digest_display"] = ch::hash_to_display(digest);
    j["input"] = o.input;
    j["type"] = hex32(*type);
    return print_json(j);
}

void add_sighash(CLI::App& tx) {
    auto o = std::make_shared<SighashOptions>();
    CLI::App* sub = tx.add_subcommand(
        "sighash", "Compute the FORKID (BIP143-style) signature hash of one input.");
    sub->add_option("--tx", o->tx, "The transaction in hex, raw or EF; '-' reads it from stdin.")
        ->required()
        ->type_name("HEX");
    sub->add_option("--input", o->input, "Index of the input to sign, from 0.")
        ->required()
        ->type_name("N");
    o->script_opt = sub->add_option("--script", o->script,
                                    "The script being satisfied (scriptCode) in hex; for P2PKH, "
                                    "the spent 25-byte locking script. Defaults to the spent "
                                    "output's script when the transaction is EF.")
                        ->type_name("HEX");
    o->amount_opt = sub->add_option("--amount", o->amount,
                                    "Value of the spent output in satoshis. Defaults to the "
                                    "value the EF transaction carries.")
                        ->type_name("SATS");
    sub->add_option("--type", o->type,
                    "Sighash type as a 32-bit number: decimal (negative values are cast to "
                    "uint32, -1 = 0xffffffff) or 0x-hex.")
        ->capture_default_str()
        ->type_name("T");
    sub->footer(
        "Output: {digest_internal (as signed), digest_display (byte-reversed), input, "
        "type (0x-hex)}.");
    set_action(*sub, [o] { return run_sighash(*o); });
}

// ---- tx sign ----

struct SignOptions {
    WifOptions key;
    std::string prevout;
    std::int64_t value = 0;
    std::vector<std::string> data;
    bool change = false;
    std::string fee_rate = "100/1000";
    std::size_t max_payload = ch::PublicationOptions::k_default_max_payload;
};

int run_sign(const SignOptions& o) {
    const auto outpoint = ch::parse_outpoint(trim(o.prevout));
    if (!outpoint)
        return usage_error("--prevout '" + o.prevout +
                           "' is not TXID:VOUT; give the 64-hex txid (as displayed) and the "
                           "output index, e.g. <txid>:0");
    std::vector<ch::Bytes> data;
    data.reserve(o.data.size());
    for (std::size_t i = 0; i < o.data.size(); ++i) {
        auto parsed = parse_hex(o.data[i], "--data #" + std::to_string(i + 1));
        if (!parsed) return usage_error(parsed.error);
        data.push_back(std::move(*parsed.value));
    }
    const auto rate = ch::parse_fee_rate(trim(o.fee_rate));
    if (!rate)
        return usage_error("--fee-rate '" + o.fee_rate +
                           "' is not a fee rate; give SATS/BYTES (e.g. 100/1000) or SATS per "
                           "1000 bytes, with BYTES > 0");
    auto key = load_wif(o.key);
    if (!key) return usage_error(key.error);

    const ch::PublicationKey pkey(key.value->key, key.value->compressed);
    std::vector<ch::ByteSpan> pushes(data.begin(), data.end());
    ch::PublicationOptions options;
    options.change = o.change;
    options.fee_rate = *rate;
    options.max_payload = o.max_payload;
    ch::PublicationBuilder builder;
    ch::Bytes raw;
    ch::Bytes ef;
    const ch::BuildResult r =
        builder.build(pkey, ch::Utxo{*outpoint, o.value}, pushes, options, raw, &ef);
    if (!r.ok()) {
        if (r.error == ch::BuildError::signing_failed)
            return internal_error(ch::build_error_message(r));
        return usage_error(ch::build_error_message(r));
    }
    Json j;
    j["txid"] = ch::hash_to_display(r.txid);
    j["hex"] = ch::to_hex(raw);
    j["ef"] = ch::to_hex(ef);
    j["size"] = r.raw_size;
    j["ef_size"] = r.ef_size;
    j["fee"] = r.fee;
    j["change"] = r.change;
    return print_json(j);
}

void add_sign(CLI::App& tx) {
    auto o = std::make_shared<SignOptions>();
    CLI::App* sub = tx.add_subcommand(
        "sign",
        "Build and sign a publication transaction: one P2PKH input of the key's own address, "
        "one OP_FALSE OP_RETURN output with the --data pushes, and optionally change back to "
        "the key's address.");
    add_wif_options(*sub, o->key);
    sub->add_option("--prevout", o->prevout,
                    "The output to spend, TXID:VOUT (txid as displayed). It must pay the key's "
                    "P2PKH address.")
        ->required()
        ->type_name("TXID:VOUT");
    sub->add_option("--value", o->value, "Value of the output being spent, in satoshis.")
        ->required()
        ->type_name("SATS");
    sub->add_option("--data", o->data,
                    "One push of the data output, in hex. Repeat for several pushes, in order.")
        ->type_name("HEX");
    sub->add_flag("--change", o->change,
                  "Send what the fee leaves back to the key's address (otherwise it all goes "
                  "to the miner as fee).");
    sub->add_option("--fee-rate", o->fee_rate,
                    "Fee rate SATS/BYTES of standard size (or SATS per 1000 bytes).")
        ->capture_default_str()
        ->type_name("SATS/BYTES");
    sub->add_option("--max-payload", o->max_payload, "Largest total of all --data pushes.")
        ->capture_default_str()
        ->type_name("BYTES");
    sub->footer(std::string(sub->get_footer()) +
                "\nOutput: {txid, hex (standard), ef (Extended Format, for ARC), size, ef_size, "
                "fee, change (satoshis, 0 without --change)}.");
    set_action(*sub, [o] { return run_sign(*o); });
}

// ---- tx verify ----

// The spent outputs from --prevouts: inline JSON, @PATH, or '-' for stdin.
Parsed<std::string> read_prevouts_text(const std::string& arg) {
    using R = Parsed<std::string>;
    const std::string_view t = trim(arg);
    if (t == "-") {
        std::string all{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
        return {std::move(all), {}};
    }
    if (!t.empty() && t.front() == '@') {
        const std::string path(t.substr(1));
        std::ifstream in(path, std::ios::binary);
        if (!in) return R::fail("cannot open --prevouts file " + path + "; check the path");
        std::string all{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        if (in.bad()) return R::fail("cannot read --prevouts file " + path);
        return {std::move(all), {}};
    }
    return {std::string(t), {}};
}

// One member of a prevout object under either of its accepted names.
const nlohmann::json* member(const nlohmann::json& obj, const char* name, const char* synonym,
                             std::string& error, const std::string& where) {
    const auto a = obj.find(name);
    const auto b = obj.find(synonym);
    if (a != obj.end() && b != obj.end()) {
        error = where + " has both \"" + name + "\" and \"" + synonym + "\"; give one";
        return nullptr;
    }
    if (a == obj.end() && b == obj.end()) {
        error = where + " lacks \"" + name + "\" (or \"" + synonym + "\")";
        return nullptr;
    }
    return a != obj.end() ? &*a : &*b;
}

Parsed<std::vector<ch::TxOut>> parse_prevouts(const std::string& arg, std::size_t n_inputs) {
    using R = Parsed<std::vector<ch::TxOut>>;
    auto text = read_prevouts_text(arg);
    if (!text) return R::fail(text.error);
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(*text.value);
    } catch (const nlohmann::json::parse_error& e) {
        return R::fail("--prevouts is not valid JSON (at byte " + std::to_string(e.byte) +
                       "); give an array like [{\"value\": 100, \"script\": \"76a9...88ac\"}]");
    }
    if (!doc.is_array())
        return R::fail(
            "--prevouts must be a JSON array with one {\"value\", \"script\"} object "
            "per input, in input order");
    if (doc.size() != n_inputs)
        return R::fail("--prevouts has " + std::to_string(doc.size()) +
                       " entries but the transaction has " + std::to_string(n_inputs) +
                       " input(s); give one per input, in input order");
    std::vector<ch::TxOut> prevs(doc.size());
    for (std::size_t i = 0; i < doc.size(); ++i) {
        const std::string where = "--prevouts[" + std::to_string(i) + "]";
        const nlohmann::json& item = doc[i];
        if (!item.is_object())
            return R::fail(where + " is not an object; give {\"value\": SATS, \"script\": HEX}");
        std::string error;
        const nlohmann::json* value = member(item, "value", "satoshis", error, where);
        if (value == nullptr) return R::fail(error);
        const nlohmann::json* script = member(item, "script", "locking_script", error, where);
        if (script == nullptr) return R::fail(error);
        const bool in_range =
            (value->is_number_unsigned() && value->get<std::uint64_t>() <= k_max_money) ||
            (value->is_number_integer() && !value->is_number_unsigned() &&
             value->get<std::int64_t>() >= 0 && value->get<std::int64_t>() <= k_max_money);
        if (!in_range)
            return R::fail(where + " value must be a whole number of satoshis from 0 to " +
                           std::to_string(k_max_money));
        prevs[i].value = value->get<std::int64_t>();
        if (!script->is_string()) return R::fail(where + " script must be a hex string");
        auto bytes = parse_hex(script->get<std::string>(), where + " script");
        if (!bytes) return R::fail(bytes.error);
        prevs[i].script = std::move(*bytes.value);
    }
    return {std::move(prevs), {}};
}

// Transaction-level rules a node applies on top of the per-input scripts.
// Returns the fee (inputs - outputs) when all amounts are in range.
std::optional<std::int64_t> check_tx_rules(const ch::Transaction& tx,
                                           std::vector<std::string>& errors) {
    if (tx.inputs.empty()) errors.emplace_back("the transaction has no inputs");
    if (tx.outputs.empty()) errors.emplace_back("the transaction has no outputs");
    std::set<std::pair<ch::Hash256, std::uint32_t>> spent;
    for (std::size_t i = 0; i < tx.inputs.size(); ++i) {
        const ch::OutPoint& p = tx.inputs[i].prevout;
        if (!spent.emplace(p.txid, p.vout).second)
            errors.push_back("input " + std::to_string(i) +
                             " spends an output an earlier input already spends");
    }
    bool amounts_ok = true;
    std::int64_t out_total = 0;
    for (std::size_t i = 0; i < tx.outputs.size(); ++i) {
        const ch::TxOut& o = tx.outputs[i];
        if (o.value < 0 || o.value > k_max_money || out_total + o.value > k_max_money) {
            errors.push_back("output " + std::to_string(i) +
                             " value is out of range (negative, or the outputs total more than "
                             "21 million BSV)");
            amounts_ok = false;
            break;
        }
        out_total += o.value;
        if (o.value != 0 && ch::classify_script(o.script) == ch::ScriptType::data)
            errors.push_back("output " + std::to_string(i) + " is a data output carrying " +
                             std::to_string(o.value) + " sat; data outputs must carry 0");
    }
    std::int64_t in_total = 0;
    for (const ch::TxIn& in : tx.inputs) {
        // Each spent value is already known to be within [0, k_max_money].
        if (in_total + in.prev->value > k_max_money) {
            errors.emplace_back("the spent outputs total more than 21 million BSV");
            return std::nullopt;
        }
        in_total += in.prev->value;
    }
    if (!amounts_ok) return std::nullopt;
    if (out_total > in_total)
        errors.push_back("the outputs (" + std::to_string(out_total) + " sat) exceed the inputs (" +
                         std::to_string(in_total) + " sat)");
    return in_total - out_total;
}

struct VerifyOptions {
    std::string tx;
    std::string prevouts;
};

int run_verify(const VerifyOptions& o) {
    if (trim(o.tx) == "-" && trim(o.prevouts) == "-")
        return usage_error(
            "--tx and --prevouts cannot both read stdin; put one in an argument "
            "or a file (--prevouts @PATH)");
    auto loaded = load_tx(o.tx, "--tx");
    if (!loaded) return usage_error(loaded.error);
    ch::Transaction& tx = loaded.value->tx;
    if (!o.prevouts.empty()) {
        auto prevs = parse_prevouts(o.prevouts, tx.inputs.size());
        if (!prevs) return usage_error(prevs.error);
        for (std::size_t i = 0; i < tx.inputs.size(); ++i)
            tx.inputs[i].prev = std::move((*prevs.value)[i]);
    } else if (loaded.value->format != ch::TxFormat::extended) {
        return usage_error(
            "the transaction is not EF, so it does not carry the outputs it "
            "spends; pass --prevouts '[{\"value\": SATS, \"script\": HEX}, ...]'");
    } else {
        for (std::size_t i = 0; i < tx.inputs.size(); ++i) {
            const std::int64_t v = tx.inputs[i].prev->value;
            if (v < 0 || v > k_max_money)
                return usage_error("the EF data of input " + std::to_string(i) +
                                   " gives a spent value out of range; check the transaction");
        }
    }

    const ch::SighashCache cache = ch::SighashCache::compute(tx);
    bool valid = true;
    Json inputs = Json::array();
    for (std::size_t i = 0; i < tx.inputs.size(); ++i) {
        const ch::InputVerifyError e = ch::verify_p2pkh_input(tx, cache, i, *tx.inputs[i].prev);
        const bool ok = e == ch::InputVerifyError::ok;
        valid = valid && ok;
        Json r;
        r["index"] = i;
        r["ok"] = ok;
        r["reason"] = ok ? Json(nullptr) : Json(std::string(ch::input_verify_message(e)));
        inputs.push_back(std::move(r));
    }
    std::vector<std::string> errors;
    const auto fee = check_tx_rules(tx, errors);
    valid = valid && errors.empty();

    Json j;
    j["valid"] = valid;
    j["txid"] = ch::hash_to_display(ch::compute_txid(tx));
    j["fee"] = fee ? Json(*fee) : Json(nullptr);
    j["inputs"] = std::move(inputs);
    j["errors"] = errors;
    return print_json(j);
}

void add_verify(CLI::App& tx) {
    auto o = std::make_shared<VerifyOptions>();
    CLI::App* sub = tx.add_subcommand(
        "verify",
        "Check a transaction's P2PKH inputs (signature, key, sighash type) and its amounts, "
        "against the outputs it spends.");
    sub->add_option("--tx", o->tx,
                    "The transaction in hex; '-' reads it from stdin. An EF transaction carries "
                    "the outputs it spends, so --prevouts may be left out.")
        ->required()
        ->type_name("HEX");
    sub->add_option("--prevouts", o->prevouts,
                    "The spent outputs, a JSON array in input order of {\"value\": SATS, "
                    "\"script\": HEX} (synonyms: satoshis, locking_script). Inline, @PATH to "
                    "read a file, or '-' for stdin. Overrides what an EF transaction carries.")
        ->type_name("JSON");
    sub->footer(
        "Output: {valid, txid, fee (null if amounts are out of range), inputs: [{index, ok, "
        "reason (null when ok)}], errors: [transaction-level problems]}.\n"
        "Exit code: 0 whenever the transaction could be checked, valid or not (read \"valid\"); "
        "2 if the input is malformed.");
    set_action(*sub, [o] { return run_verify(*o); });
}

}  // namespace

void register_tx_commands(CLI::App& app) {
    CLI::App* tx = app.add_subcommand("tx", "Decode, sign, hash and verify transactions.");
    tx->require_subcommand(1);
    add_decode(*tx);
    add_sighash(*tx);
    add_sign(*tx);
    add_verify(*tx);
}

}  // namespace raregen::cli
