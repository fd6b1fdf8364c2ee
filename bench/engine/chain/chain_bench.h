#pragma once
// Fixed inputs shared by the chain benchmarks, so every file signs with the
// same key, varies its digests the same way and uses the same reference
// context.

#include <secp256k1.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>

#include "engine/chain/hash.h"
#include "engine/chain/keys.h"

namespace raregen::bench {

// A fixed valid secret (0x11 repeated is far below the curve order).
inline chain::PrivateKey bench_private_key() {
    chain::Hash256 secret;
    secret.fill(0x11);
    return *chain::PrivateKey::from_bytes(secret);
}

inline chain::Hash256 bench_digest() {
    return chain::sha256d(chain::ByteSpan());
}

// Makes each iteration sign a different digest at the cost of one store.
inline void vary(chain::Hash256& digest, std::uint64_t n) {
    std::memcpy(digest.data(), &n, sizeof n);
}

// The reference context, used as libsecp256k1's own benchmarks use one:
// created once, randomized once, then only secp256k1_ecdsa_sign with the
// default (RFC 6979) nonce function. Throws at set-up only.
class RawContext {
  public:
    RawContext() : m_ctx(secp256k1_context_create(SECP256K1_CONTEXT_NONE)) {
        std::array<unsigned char, 32> seed{};
        std::random_device rd;
        for (auto& b : seed)
            b = static_cast<unsigned char>(rd());
        if (m_ctx == nullptr || secp256k1_context_randomize(m_ctx, seed.data()) != 1)
            throw std::runtime_error("secp256k1: cannot create or randomize a context");
    }
    ~RawContext() { secp256k1_context_destroy(m_ctx); }
    RawContext(const RawContext&) = delete;
    RawContext& operator=(const RawContext&) = delete;
    secp256k1_context* get() const { return m_ctx; }

    // The reference operation. False only for an invalid key.
    bool sign(secp256k1_ecdsa_signature& sig, const chain::Hash256& digest,
              const chain::PrivateKey& key) const {
        return secp256k1_ecdsa_sign(m_ctx, &sig, digest.data(), key.secret().data(), nullptr,
                                    nullptr) == 1;
    }

  private:
    secp256k1_context* m_ctx;
};

// Names the ratio report in bench_main.cpp looks for.
inline constexpr const char* k_reference_bench = "BM_RawEcdsaSign";
inline constexpr const char* k_publication_raw_bench = "BM_PublicationBuild/raregen_change_raw";
inline constexpr const char* k_publication_ef_bench = "BM_PublicationBuild/raregen_change_raw_ef";
inline constexpr const char* k_interleaved_raw_bench = "BM_PublicationVsRawSign/raregen_change_raw";
inline constexpr const char* k_interleaved_ef_bench =
    "BM_PublicationVsRawSign/raregen_change_raw_ef";

}  // namespace raregen::bench
