#pragma once
// Reading ARC's JSON answers (docs/protocol.md §5): the entries of a POST /v1/txs
// answer, an error object, a GET /v1/tx answer and GET /v1/policy. What the
// ArcClient's I/O thread does with a job after an answer is decided from
// these; the parsing lives here, apart from the client's sockets and slots,
// so a fuzzer can reach it.
//
// Threads: pure functions over the caller's parser; one thread per parser.
// Allocation: none once the parser's buffers have grown to the largest
// answer seen. Texts are cut, never refused: an answer can say anything.
//
// Bodies are parsed in place: `padded` must be followed in memory by at
// least simdjson::SIMDJSON_PADDING readable bytes (ArcClient pads its answer
// buffer inside the string's size).

#include <simdjson.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/chain/fees.h"

namespace raregen::send {

// Text builder over a fixed buffer, so answers are described without
// allocating. What does not fit is cut.
class TextLine {
  public:
    static constexpr std::size_t k_capacity = 480;
    TextLine& operator<<(std::string_view s) noexcept;
    TextLine& operator<<(std::uint64_t v) noexcept;
    std::string_view view() const noexcept { return {m_buf.data(), m_size}; }

  private:
    std::array<char, k_capacity> m_buf{};
    std::size_t m_size = 0;
};

// The string member `key` of `obj`, or "" if absent or not a string.
std::string_view arc_string(simdjson::dom::object obj, std::string_view key) noexcept;
// The numeric member `key` of `obj` (a double is truncated), or 0 if absent,
// not a number, or beyond +-9e18.
std::int64_t arc_int(simdjson::dom::object obj, std::string_view key) noexcept;

// An ARC error object as a readable detail: "ARC <status> <title>: <detail>
// (<extraInfo>)". A negative status is written as 0.
void arc_error_detail(TextLine& out, std::int64_t status, simdjson::dom::object obj) noexcept;

// True for the txStatus values that mean the network holds the transaction
// (QUEUED ... SEEN_ON_NETWORK, MINED). An allow-list: anything else, an
// unknown word from a proxy included, is no definite answer.
bool arc_status_accepted(std::string_view tx_status) noexcept;

// What an answer entry means for its transaction.
enum class ArcEntryKind : std::uint8_t {
    sent,         // an accepted txStatus (QUEUED ... SEEN_ON_NETWORK, MINED)
    failed,       // REJECTED, DOUBLE_SPEND_ATTEMPTED, or a 4xx error other than 465
    fee_too_low,  // error 465
    retry,        // no definite answer (orphan, UNKNOWN, 5xx entry, no status)
};

struct ArcEntry {
    ArcEntryKind kind = ArcEntryKind::retry;
    std::uint16_t status = 0;    // the entry's status (200 when a txStatus came without one)
    std::string_view tx_status;  // "" when the entry had none; points into the parser
    TextLine detail;             // why (empty for `sent`)
};

// Classifies one entry of a POST /v1/txs answer, or a GET /v1/tx answer.
ArcEntry classify_arc_entry(simdjson::dom::object obj) noexcept;

// Parses `padded` (see top) as JSON. False if it is not JSON; else `root`
// is the document (valid until the parser's next parse).
bool parse_arc_json(simdjson::dom::parser& parser, std::string_view padded,
                    simdjson::dom::element& root) noexcept;

// policy.miningFee of a GET /v1/policy answer (document root `root`), or
// false if absent, or out of the bounds fee arithmetic accepts (bytes 0, or
// either value >= 2^31).
bool arc_policy_fee(simdjson::dom::element root, chain::FeeRate& out) noexcept;

}  // namespace raregen::send
