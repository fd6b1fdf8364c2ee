#pragma once
// Transactions: the value type, standard and Extended Format (BRC-30)
// serialization, a strict parser, and txids.
//
// The general Transaction owns vectors and is for parsing, tools and tests;
// the publication hot path writes bytes directly (publication.h) and never
// builds one.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/hash.h"

namespace raregen::chain {

// The most satoshis any amount can hold: 21 million coins.
inline constexpr std::int64_t k_max_money = 21'000'000LL * 100'000'000LL;

struct OutPoint {
    Hash256 txid{};  // internal byte order (as hashed); displayed reversed
    std::uint32_t vout = 0;
    bool operator==(const OutPoint&) const = default;
};
// "TXID:VOUT" with the txid in display order (64 hex) and vout decimal.
std::optional<OutPoint> parse_outpoint(std::string_view text);
std::string format_outpoint(const OutPoint& o);

struct TxOut {
    std::int64_t value = 0;
    Bytes script;
};

struct TxIn {
    OutPoint prevout;
    Bytes script_sig;
    std::uint32_t sequence = 0xffffffff;
    // The spent output; present in EF, needed for sighash and verification.
    std::optional<TxOut> prev;
};

struct Transaction {
    std::int32_t version = 1;
    std::vector<TxIn> inputs;
    std::vector<TxOut> outputs;
    std::uint32_t lock_time = 0;
};

enum class TxFormat : std::uint8_t { standard, extended };

// The six bytes that follow the version in EF.
constexpr std::uint8_t k_ef_marker[6] = {0x00, 0x00, 0x00, 0x00, 0x00, 0xef};

// Appends the serialization to `out`. Extended requires every input's `prev`
// (returns false, writing nothing, if one is missing).
bool serialize(const Transaction& tx, TxFormat format, Bytes& out);
Bytes serialize(const Transaction& tx);  // standard
std::size_t standard_size(const Transaction& tx);

// sha256d of the standard serialization, internal order.
Hash256 compute_txid(const Transaction& tx);
// Display form of a txid or digest: reversed hex.
std::string hash_to_display(const Hash256& h);
std::optional<Hash256> hash_from_display(std::string_view hex);

enum class ParseErrorCode : std::uint8_t {
    ok,
    truncated,         // data ends inside a field
    non_minimal_size,  // a CompactSize that is not minimally encoded
    count_too_large,   // an input/output count the remaining bytes cannot hold
    length_too_large,  // a script length past the end of the data
    trailing_bytes,    // bytes left after lock_time
};
std::string_view parse_error_message(ParseErrorCode c);

struct ParseResult {
    ParseErrorCode code = ParseErrorCode::ok;
    std::size_t offset = 0;  // byte offset where the problem was found
    TxFormat format = TxFormat::standard;
    bool ok() const { return code == ParseErrorCode::ok; }
};

// Parses raw or EF bytes (detected by the marker). Never reads past `data`
// and never allocates more than the data could describe: counts and lengths
// are checked against the remaining bytes before anything is reserved.
ParseResult parse_transaction(ByteSpan data, Transaction& out);

}  // namespace raregen::chain
