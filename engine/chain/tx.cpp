#include "engine/chain/tx.h"

#include <algorithm>
#include <charconv>

namespace raregen::chain {

std::optional<OutPoint> parse_outpoint(std::string_view text) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto txid = hash_from_display(text.substr(0, colon));
    if (!txid) return std::nullopt;
    const std::string_view v = text.substr(colon + 1);
    std::uint32_t vout = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), vout);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) return std::nullopt;
    return OutPoint{*txid, vout};
}

std::string format_outpoint(const OutPoint& o) {
    return hash_to_display(o.txid) + ":" + std::to_string(o.vout);
}

std::string hash_to_display(const Hash256& h) {
    return to_hex_reversed(h);
}

std::optional<Hash256> hash_from_display(std::string_view hex) {
    auto h = from_hex_fixed<32>(hex);
    if (!h) return std::nullopt;
    std::reverse(h->begin(), h->end());
    return h;
}

namespace {

void write_outpoint(Writer& w, const OutPoint& o) {
    w.bytes(o.txid);
    w.u32le(o.vout);
}

void write_output(Writer& w, const TxOut& o) {
    w.i64le(o.value);
    w.var_bytes(o.script);
}

}  // namespace

bool serialize(const Transaction& tx, TxFormat format, Bytes& out) {
    if (format == TxFormat::extended &&
        std::any_of(tx.inputs.begin(), tx.inputs.end(), [](const TxIn& in) { return !in.prev; }))
        return false;
    Writer w(out);
    w.i32le(tx.version);
    if (format == TxFormat::extended) w.bytes(k_ef_marker);
    w.compact_size(tx.inputs.size());
    for (const TxIn& in : tx.inputs) {
        write_outpoint(w, in.prevout);
        w.var_bytes(in.script_sig);
        w.u32le(in.sequence);
        if (format == TxFormat::extended) write_output(w, *in.prev);
    }
    w.compact_size(tx.outputs.size());
    for (const TxOut& o : tx.outputs)
        write_output(w, o);
    w.u32le(tx.lock_time);
    return true;
}

Bytes serialize(const Transaction& tx) {
    Bytes out;
    out.reserve(standard_size(tx));
    serialize(tx, TxFormat::standard, out);
    return out;
}

std::size_t standard_size(const Transaction& tx) {
    std::size_t n =
        4 + compact_size_len(tx.inputs.size()) + compact_size_len(tx.outputs.size()) + 4;
    for (const TxIn& in : tx.inputs)
        n += 36 + compact_size_len(in.script_sig.size()) + in.script_sig.size() + 4;
    for (const TxOut& o : tx.outputs)
        n += 8 + compact_size_len(o.script.size()) + o.script.size();
    return n;
}

Hash256 compute_txid(const Transaction& tx) {
    return sha256d(serialize(tx));
}

std::string_view parse_error_message(ParseErrorCode c) {
    switch (c) {
        case ParseErrorCode::ok:
            return "ok";
        case ParseErrorCode::truncated:
            return "transaction data ends inside a field (truncated)";
        case ParseErrorCode::non_minimal_size:
            return "a CompactSize is not minimally encoded (the node refuses it)";
        case ParseErrorCode::count_too_large:
            return "an input or output count is larger than the remaining data can hold";
        case ParseErrorCode::length_too_large:
            return "a script length runs past the end of the data";
        case ParseErrorCode::trailing_bytes:
            return "bytes remain after lock_time";
    }
    return "unknown parse error";
}

namespace {

// Smallest possible serialized input (36 outpoint + 1 length + 4 sequence)
// and output (8 value + 1 length): a count above remaining/min cannot be real.
constexpr std::size_t k_min_input_size = 41;
constexpr std::size_t k_min_output_size = 9;

struct Parser {
    Reader r;
    ParseResult res;

    bool fail(ParseErrorCode c) {
        res.code = c;
        res.offset = r.offset();
        return false;
    }
    bool size(std::uint64_t& v) {
        if (r.compact_size(v)) return true;
        return fail(r.last_was_non_minimal() ? ParseErrorCode::non_minimal_size
                                             : ParseErrorCode::truncated);
    }
    bool var_bytes(Bytes& out) {
        std::uint64_t n = 0;
        if (!size(n)) return false;
        if (n > r.remaining()) return fail(ParseErrorCode::length_too_large);
        ByteSpan s;
        r.bytes(static_cast<std::size_t>(n), s);
        out.assign(s.begin(), s.end());
        return true;
    }
    bool output(TxOut& o) {
        if (!r.i64le(o.value)) return fail(ParseErrorCode::truncated);
        return var_bytes(o.script);
    }
    bool count(std::uint64_t& n, std::size_t min_item) {
        if (!size(n)) return false;
        if (n > r.remaining() / min_item) return fail(ParseErrorCode::count_too_large);
        return true;
    }
};

}  // namespace

ParseResult parse_transaction(ByteSpan data, Transaction& tx) {
    Parser p{Reader(data), {}};
    tx = Transaction{};
    if (!p.r.i32le(tx.version)) {
        p.fail(ParseErrorCode::truncated);
        return p.res;
    }
    // Exactly 10 bytes matching the marker are a standard transaction with no
    // inputs and no outputs (lock_time 0xef000000): EF is always longer.
    if (data.size() > 10 &&
        std::equal(std::begin(k_ef_marker), std::end(k_ef_marker), data.begin() + 4)) {
        p.res.format = TxFormat::extended;
        p.r.skip(6);
    }
    const bool ef = p.res.format == TxFormat::extended;
    std::uint64_t n_in = 0;
    if (!p.count(n_in, k_min_input_size + (ef ? k_min_output_size : 0))) return p.res;
    tx.inputs.resize(static_cast<std::size_t>(n_in));
    for (TxIn& in : tx.inputs) {
        ByteSpan txid;
        if (!p.r.bytes(32, txid) || !p.r.u32le(in.prevout.vout)) {
            p.fail(ParseErrorCode::truncated);
            return p.res;
        }
        std::copy(txid.begin(), txid.end(), in.prevout.txid.begin());
        if (!p.var_bytes(in.script_sig)) return p.res;
        if (!p.r.u32le(in.sequence)) {
            p.fail(ParseErrorCode::truncated);
            return p.res;
        }
        if (ef) {
            in.prev.emplace();
            if (!p.output(*in.prev)) return p.res;
        }
    }
    std::uint64_t n_out = 0;
    if (!p.count(n_out, k_min_output_size)) return p.res;
    tx.outputs.resize(static_cast<std::size_t>(n_out));
    for (TxOut& o : tx.outputs)
        if (!p.output(o)) return p.res;
    if (!p.r.u32le(tx.lock_time)) {
        p.fail(ParseErrorCode::truncated);
        return p.res;
    }
    if (p.r.remaining() != 0) p.fail(ParseErrorCode::trailing_bytes);
    return p.res;
}

}  // namespace raregen::chain
