#pragma once
// Shared by the storage/keys tests: deterministic signer keys and a migrated
// fresh database.

#include <array>
#include <cstdint>
#include <string>

#include "engine/chain/bytes.h"
#include "engine/chain/keys.h"
#include "engine/model/signer_registry.h"
#include "storage/pg/connection.h"
#include "storage/pg/migrations.h"

namespace raregen::keys::testing {

// The compressed public key of secret key i + 1 (i < 255).
inline ingest::CompressedPubkey test_key(std::uint8_t i) {
    std::array<std::uint8_t, 32> secret{};
    secret[31] = static_cast<std::uint8_t>(i + 1);
    const auto priv = chain::PrivateKey::from_bytes(secret);
    const chain::PublicKey pub = chain::public_key_of(*priv, true);
    ingest::CompressedPubkey out{};
    for (std::size_t b = 0; b < out.size(); ++b)
        out[b] = pub.bytes[b];
    return out;
}

inline std::string hex_of(const ingest::CompressedPubkey& key) {
    return chain::to_hex(chain::ByteSpan(key.data(), key.size()));
}

inline std::string upper(std::string s) {
    for (char& c : s)
        if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    return s;
}

}  // namespace raregen::keys::testing
