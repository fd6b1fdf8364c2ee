#pragma once
// Base58 and Base58Check (4-byte sha256d checksum), as used by WIF keys and
// P2PKH addresses. Not on any hot path.

#include <optional>
#include <string>
#include <string_view>

#include "engine/chain/bytes.h"

namespace raregen::chain {

std::string base58_encode(ByteSpan data);
// nullopt on a character outside the alphabet.
std::optional<Bytes> base58_decode(std::string_view text);

// payload || sha256d(payload)[0..4], base58-encoded.
std::string base58check_encode(ByteSpan payload);
// The payload, or nullopt if the text is not base58 or the checksum is wrong.
std::optional<Bytes> base58check_decode(std::string_view text);

}  // namespace raregen::chain
