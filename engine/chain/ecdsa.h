#pragma once
// ECDSA over secp256k1 with libsecp256k1.
//
// One context per thread, created and randomized once (side-channel
// blinding), then reused: `Secp256k1::for_this_thread()` hands the calling
// thread its own. After creation nothing here allocates.
//
// Signatures are RFC 6979 deterministic, low-S and DER-encoded: what
// secp256k1_ecdsa_sign with the default nonce function produces.

#include <array>
#include <cstdint>
#include <string_view>

#include "engine/chain/bytes.h"
#include "engine/chain/hash.h"
#include "engine/chain/keys.h"

struct secp256k1_context_struct;

namespace raregen::chain {

// A DER signature (at most 72 bytes) without the sighash byte.
struct DerSignature {
    std::array<std::uint8_t, 72> bytes{};
    std::uint8_t size = 0;
    ByteSpan span() const { return {bytes.data(), size}; }
};

enum class VerifyError : std::uint8_t {
    ok,
    bad_public_key,  // not a valid serialized point
    bad_der,         // not strict DER
    high_s,          // valid but not low-S, and high-S was not allowed
    bad_signature,   // does not verify against the digest and key
};
std::string_view verify_error_message(VerifyError e);

class Secp256k1 {
  public:
    Secp256k1();  // creates and randomizes a context; throws on failure (start-up)
    ~Secp256k1();
    Secp256k1(const Secp256k1&) = delete;
    Secp256k1& operator=(const Secp256k1&) = delete;

    // The calling thread's context (created on first use).
    static Secp256k1& for_this_thread();

    // Signs a 32-byte digest as-is. Returns false only if the key is invalid
    // (which PrivateKey's constructors rule out).
    bool sign(const Hash256& digest, const PrivateKey& key, DerSignature& out) const;
    // Verifies DER `sig` over `digest` by `pubkey` (33 or 65 bytes).
    // allow_high_s: normalize a high-S signature before verifying (clients of
    // the publish API may send them); otherwise high-S is refused.
    VerifyError verify(const Hash256& digest, ByteSpan sig, ByteSpan pubkey,
                       bool allow_high_s = false) const;
    bool public_key(const PrivateKey& key, bool compressed, PublicKey& out) const;
    // True if 32 bytes are a valid secret key (0 < k < n).
    bool valid_secret(ByteSpan secret) const;

    secp256k1_context_struct* raw() const { return m_ctx; }

  private:
    secp256k1_context_struct* m_ctx;
};

}  // namespace raregen::chain
