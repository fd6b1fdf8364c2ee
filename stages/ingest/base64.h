#pragma once
// Base64 for signatures: a decoder that writes into a caller-owned fixed
// buffer (the ingest hot path decodes one DER signature per intent and must
// not allocate), and an encoder for tools that produce intents.
//
// Accepted input (what Node's Buffer.from(text, "base64") - the seed
// service's decoder - accepts in practice from well-behaved clients):
//   * the standard alphabet (A-Z a-z 0-9 + /) and the URL-safe one (- _),
//     even mixed;
//   * with or without trailing '=' padding; if present, padding must be
//     correct for the length (1 or 2 '=' completing a 4-character group).
// Refused: whitespace, any other character, a lone final character (6 bits
// cannot end a byte), and '=' anywhere but the end. Node is laxer (it skips
// junk); a signature with junk in it is refused here on purpose, because two
// decoders disagreeing on what was signed is worse than one refusal.
//
// Threads: pure functions, any thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace raregen::ingest {

// Decodes `text` into `out`. Returns the number of bytes written, or nullopt
// if `text` is not base64 as described above or decodes to more than
// out.size() bytes (then `out` holds garbage). Allocates nothing.
[[nodiscard]] std::optional<std::size_t> base64_decode(std::string_view text,
                                                       std::span<std::uint8_t> out) noexcept;

// Appends the standard, padded base64 of `data` to `out`.
void base64_append(std::span<const std::uint8_t> data, std::string& out);

}  // namespace raregen::ingest
