#include "engine/chain/ecdsa.h"

#include <openssl/rand.h>
#include <secp256k1.h>

#include <stdexcept>

namespace raregen::chain {

std::string_view verify_error_message(VerifyError e) {
    switch (e) {
        case VerifyError::ok:
            return "ok";
        case VerifyError::bad_public_key:
            return "public key is not a valid secp256k1 point";
        case VerifyError::bad_der:
            return "signature is not strict DER";
        case VerifyError::high_s:
            return "signature is not low-S (s > n/2)";
        case VerifyError::bad_signature:
            return "signature does not verify";
    }
    return "unknown";
}

Secp256k1::Secp256k1() : m_ctx(secp256k1_context_create(SECP256K1_CONTEXT_NONE)) {
    if (m_ctx == nullptr) throw std::runtime_error("secp256k1: cannot create context");
    std::array<unsigned char, 32> seed{};
    if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1 ||
        secp256k1_context_randomize(m_ctx, seed.data()) != 1) {
        secp256k1_context_destroy(m_ctx);
        throw std::runtime_error("secp256k1: cannot randomize context (CSPRNG failure)");
    }
}

Secp256k1::~Secp256k1() {
    secp256k1_context_destroy(m_ctx);
}

Secp256k1& Secp256k1::for_this_thread() {
    thread_local Secp256k1 ctx;
    return ctx;
}

bool Secp256k1::sign(const Hash256& digest, const PrivateKey& key, DerSignature& out) const {
    secp256k1_ecdsa_signature sig;
    if (secp256k1_ecdsa_sign(m_ctx, &sig, digest.data(), key.secret().data(), nullptr, nullptr) !=
        1)
        return false;
    std::size_t len = out.bytes.size();
    if (secp256k1_ecdsa_signature_serialize_der(m_ctx, out.bytes.data(), &len, &sig) != 1)
        return false;
    out.size = static_cast<std::uint8_t>(len);
    return true;
}

VerifyError Secp256k1::verify(const Hash256& digest, ByteSpan sig, ByteSpan pubkey,
                              bool allow_high_s) const {
    secp256k1_pubkey pk;
    if (secp256k1_ec_pubkey_parse(m_ctx, &pk, pubkey.data(), pubkey.size()) != 1)
        return VerifyError::bad_public_key;
    secp256k1_ecdsa_signature s;
    if (secp256k1_ecdsa_signature_parse_der(m_ctx, &s, sig.data(), sig.size()) != 1)
        return VerifyError::bad_der;
    // normalize() returns 1 when the input was high-S.
    if (secp256k1_ecdsa_signature_normalize(m_ctx, &s, &s) == 1 && !allow_high_s)
        return VerifyError::high_s;
    return secp256k1_ecdsa_verify(m_ctx, &s, digest.data(), &pk) == 1 ? VerifyError::ok
                                                                      : VerifyError::bad_signature;
}

bool Secp256k1::public_key(const PrivateKey& key, bool compressed, PublicKey& out) const {
    secp256k1_pubkey pk;
    if (secp256k1_ec_pubkey_create(m_ctx, &pk, key.secret().data()) != 1) return false;
    std::size_t len = out.bytes.size();
    secp256k1_ec_pubkey_serialize(m_ctx, out.bytes.data(), &len, &pk,
                                  compressed ? SECP256K1_EC_COMPRESSED : SECP256K1_EC_UNCOMPRESSED);
    out.size = static_cast<std::uint8_t>(len);
    return true;
}

bool Secp256k1::valid_secret(ByteSpan secret) const {
    return secret.size() == 32 && secp256k1_ec_seckey_verify(m_ctx, secret.data()) == 1;
}

}  // namespace raregen::chain
