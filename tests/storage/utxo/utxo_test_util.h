#pragma once
// Distinct, well-formed UTXOs for the ring and source tests.

#include <cstdint>

#include "engine/chain/hash.h"
#include "engine/chain/publication.h"

namespace raregen::utxo::testing {

// UTXO number `i`: txid = sha256 of i's 8 little-endian bytes, vout = i mod
// 7, value 100 + i mod 1000. Distinct for distinct i.
inline chain::Utxo numbered_utxo(std::uint64_t i) {
    std::uint8_t le[8];
    for (int b = 0; b < 8; ++b)
        le[b] = static_cast<std::uint8_t>(i >> (8 * b));
    chain::Utxo u;
    u.outpoint.txid = chain::sha256(chain::ByteSpan(le, 8));
    u.outpoint.vout = static_cast<std::uint32_t>(i % 7);
    u.value = static_cast<std::int64_t>(100 + i % 1000);
    return u;
}

// A cheap distinct UTXO for stress tests: the number is in the txid's
// first 8 bytes, so the consumer can read it back.
inline chain::Utxo tagged_utxo(std::uint64_t i) {
    chain::Utxo u;
    for (int b = 0; b < 8; ++b)
        u.outpoint.txid[b] = static_cast<std::uint8_t>(i >> (8 * b));
    u.outpoint.vout = static_cast<std::uint32_t>(i);
    u.value = static_cast<std::int64_t>(i);
    return u;
}

inline std::uint64_t tag_of(const chain::Utxo& u) {
    std::uint64_t i = 0;
    for (int b = 0; b < 8; ++b)
        i |= static_cast<std::uint64_t>(u.outpoint.txid[b]) << (8 * b);
    return i;
}

inline bool same_utxo(const chain::Utxo& a, const chain::Utxo& b) {
    return a.outpoint == b.outpoint && a.value == b.value;
}

}  // namespace raregen::utxo::testing
