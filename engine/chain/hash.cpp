// OpenSSL 3 marks the low-level digest functions deprecated in favour of EVP,
// but EVP_Digest allocates a context per call; the low-level ones do not.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "engine/chain/hash.h"

#include <openssl/ripemd.h>
#include <openssl/sha.h>

#include <cstring>

namespace raregen::chain {

static_assert(sizeof(SHA256_CTX) <= 128, "Sha256::m_state too small for SHA256_CTX");

Hash256 sha256(ByteSpan data) {
    Hash256 out;
    SHA256(data.data(), data.size(), out.data());
    return out;
}

Hash256 sha256d(ByteSpan data) {
    Hash256 once = sha256(data);
    return sha256(once);
}

Hash160 ripemd160(ByteSpan data) {
    Hash160 out;
    RIPEMD160(data.data(), data.size(), out.data());
    return out;
}

Hash160 hash160(ByteSpan data) { return ripemd160(sha256(data)); }

Sha256::Sha256() { SHA256_Init(reinterpret_cast<SHA256_CTX*>(m_state)); }

Sha256& Sha256::update(ByteSpan data) { return update(data.data(), data.size()); }

Sha256& Sha256::update(const void* data, std::size_t len) {
    SHA256_Update(reinterpret_cast<SHA256_CTX*>(m_state), data, len);
    return *this;
}

Hash256 Sha256::finalize() {
    Hash256 out;
    SHA256_Final(out.data(), reinterpret_cast<SHA256_CTX*>(m_state));
    return out;
}

Hash256 Sha256::finalize_double() {
    Hash256 once = finalize();
    return sha256(once);
}

}  // namespace raregen::chain
