#pragma once
// SHA-256, double SHA-256, RIPEMD-160 and HASH160 (OpenSSL's implementations).
//
// All functions are thread-safe and allocate nothing: they use OpenSSL's
// one-shot context structs on the stack, not EVP objects (which allocate per
// call).

#include <array>
#include <cstdint>

#include "engine/chain/bytes.h"

namespace raregen::chain {

using Hash256 = std::array<std::uint8_t, 32>;
using Hash160 = std::array<std::uint8_t, 20>;

Hash256 sha256(ByteSpan data);
Hash256 sha256d(ByteSpan data);
Hash160 ripemd160(ByteSpan data);
// RIPEMD160(SHA256(data)).
Hash160 hash160(ByteSpan data);

// Incremental SHA-256; finalize_double() gives SHA256(SHA256(all input)).
// Copyable, so a common prefix can be hashed once and the state reused.
class Sha256 {
  public:
    Sha256();
    Sha256& update(ByteSpan data);
    Sha256& update(const void* data, std::size_t len);
    Hash256 finalize();
    Hash256 finalize_double();

  private:
    // Large enough for OpenSSL's SHA256_CTX (checked in hash.cpp), kept opaque
    // so OpenSSL's headers stay out of every includer.
    alignas(8) unsigned char m_state[128];
};

}  // namespace raregen::chain
