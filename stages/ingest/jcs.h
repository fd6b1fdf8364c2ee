#pragma once

// RFC 8785 JSON Canonicalization Scheme (JCS) over a simdjson DOM value.
//
// RareGen signs SHA256(JCS(record)); the engine must reproduce the exact bytes
// the old Node service (npm `canonicalize`) produced, or every client
// signature fails. Output rules:
//   - no whitespace; literals true/false/null;
//   - object members sorted by the UTF-16 code units of their keys (not UTF-8
//     bytes: U+1F600 sorts before U+FF61 because its first unit is 0xD83D);
//   - strings escaped minimally: \" \\ \b \f \n \r \t, other C0 controls as
//     \u00xx (lowercase hex), everything else literal UTF-8 (DEL, U+2028/2029
//     included);
//   - numbers as ECMAScript Number.prototype.toString of the IEEE double:
//     shortest round-trip digits, plain notation for 1e-6 <= |x| < 1e21,
//     otherwise `1e+21`, `1.5e-7`; -0 prints as `0`.
//
// Numbers and what happens to them:
//   - Every number is taken as an IEEE double, as ECMAScript does. Integers
//     beyond 2^53 are rounded to the nearest double (ties to even), so
//     9007199254740993 canonicalizes to 9007199254740992 and
//     18446744073709551615 to 18446744073709552000. Clients that need exact
//     big integers must send them as strings.
//   - simdjson (3.0.x DOM) refuses some inputs at parse time, before this code
//     sees them: integer literals outside [-2^63, 2^64) (NUMBER_ERROR; JSON
//     text such as 123456789012345678901 - the Node service accepted and
//     rounded these; here the client must send a string, or the same value
//     with a fraction or exponent, e.g. 1.23456789012345678901e20, which
//     parses), magnitudes that overflow a double such as 1e400
//     (NUMBER_ERROR), lone surrogate escapes such as "\ud800" (STRING_ERROR)
//     and invalid UTF-8 (UTF8_ERROR). The ingest stage reports those as bad
//     input.
//
// Checks done here although simdjson's parser already guarantees most of
// them, because a signature over an ambiguous record is worse than a refused
// one: UTF-8 well-formedness of every key and string, finite numbers, and
// unique keys per object (RFC 8785 requires I-JSON; with duplicates, parsers
// disagree on which value the signature covered).

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace raregen::ingest {

// Member order in objects.
//   rfc8785     RFC 8785: every key by its UTF-16 code units.
//   javascript  what the RareGen Node service signed: JSON.stringify of an
//               object rebuilt with its keys in Object.keys(o).sort() order.
//               JavaScript lists "array index" keys (canonical decimal
//               integers 0 .. 2^32-2: "0", "9", "10", "2024", not "01" or
//               "-1") first, in numeric order, whatever the insertion order;
//               the other keys follow in UTF-16 order. Everything else
//               (strings, numbers, literals) is written the same way.
// The two forms differ only for records with array-index keys.
enum class KeyOrder : std::uint8_t { rfc8785, javascript };

// True if JavaScript treats `key` as an array index (see KeyOrder).
[[nodiscard]] bool is_array_index_key(std::string_view key) noexcept;

enum class JcsStatus : std::uint8_t {
    ok,                 // `out` holds the canonical form
    invalid_utf8,       // a key or string is not well-formed UTF-8 (includes encoded
                        // surrogates U+D800..U+DFFF); `out` is cleared
    non_finite_number,  // NaN or +-Infinity; JSON cannot carry them; `out` is cleared
    duplicate_key,      // an object names the same key twice; `out` is cleared
    unsupported_value,  // a DOM element type JSON text cannot produce; `out` is cleared
};

// What went wrong and what the sender should do, for error responses and logs.
[[nodiscard]] std::string_view describe(JcsStatus status) noexcept;

// Appends the ECMAScript Number.prototype.toString form of a finite `value`
// to `out` (no allocation beyond `out` growing). Returns false, appending
// nothing, if `value` is NaN or infinite.
[[nodiscard]] bool append_ecmascript_number(double value, std::string& out);

// Appends `s` as a JCS string literal (quotes, minimal escapes) to `out`.
// Returns false if `s` is not well-formed UTF-8; `out` then holds a partial
// literal the caller must discard.
[[nodiscard]] bool append_json_string(std::string_view s, std::string& out);

// Less-than on the UTF-16 code units of two UTF-8 strings, the JCS key order.
// Defined for any bytes (never reads out of bounds); meaningful for valid
// UTF-8.
[[nodiscard]] bool utf16_less(std::string_view a, std::string_view b) noexcept;

// Canonicalizes DOM values. Holds the scratch space object-key sorting needs,
// so after the first few records (warm-up) a call allocates nothing, provided
// the caller reuses `out` too.
//
// Threads: one Canonicalizer per thread; canonicalize() mutates the scratch.
// Distinct instances are independent. The DOM element must stay valid (its
// simdjson parser not reused) for the duration of the call.
// Nesting depth is bounded by the parser's max depth (simdjson default 1024);
// recursion uses a small stack frame per level.
class Canonicalizer {
  public:
    // `expected_members` pre-sizes the sort scratch: the largest total number
    // of object members open at once along one path of nesting.
    explicit Canonicalizer(std::size_t expected_members = 64);

    // Clears `out` and writes the canonical form of `value` into it, members
    // in `order`. Returns ok, or the first problem found (then `out` is
    // empty). Throws only std::bad_alloc, when `out` or the scratch cannot
    // grow (treated as fatal); every input problem is a return value.
    [[nodiscard]] JcsStatus canonicalize(simdjson::dom::element value, std::string& out,
                                         KeyOrder order = KeyOrder::rfc8785);

    // After an ok canonicalize(): true if some object in the value had an
    // array-index key, i.e. the two KeyOrders may give different text.
    [[nodiscard]] bool saw_array_index_key() const noexcept { return m_saw_index_key; }

    // Members the sort scratch holds without growing (for tests and sizing).
    [[nodiscard]] std::size_t scratch_capacity() const noexcept { return m_members.capacity(); }

  private:
    struct Member {
        std::string_view key;
        simdjson::dom::element value;
    };

    JcsStatus write_value(simdjson::dom::element value, std::string& out);
    JcsStatus write_object(simdjson::dom::object object, std::string& out);

    // A stack of object members: each open object owns the range it pushed.
    std::vector<Member> m_members;
    KeyOrder m_order = KeyOrder::rfc8785;
    bool m_saw_index_key = false;
};

}  // namespace raregen::ingest
