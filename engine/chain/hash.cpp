// OpenSSL 3 marks the low-level digest functions deprecated in favour of EVP,
// but EVP_Digest allocates a context per call; the low-level contexts do not.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "engine/chain/hash.h"

#include <openssl/ripemd.h>
#include <openssl/sha.h>

#include <cstring>

namespace raregen::chain {

static_assert(sizeof(SHA256_CTX) <= 128, "Sha256::m_state too small for SHA256_CTX");

// OpenSSL 3's one-shot SHA256()/RIPEMD160() fetch an EVP method, lock and
// allocate a context per call (about 0.9 us, 2 mallocs); the stack contexts
// below cost only the hashing.
Hash256 sha256(ByteSpan data) {
    Hash256 out;
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data.data(), data.size());
    SHA256_Final(out.data(), &ctx);
    return out;
}

Hash256 sha256d(ByteSpan data) {
    Hash256 once = sha256(data);
    return sha256(once);
}

Hash160 ripemd160(ByteSpan data) {
    Hash160 out;
    RIPEMD160_CTX ctx;
    RIPEMD160_Init(&ctx);
    RIPEMD160_Update(&ctx, data.data(), data.size());
    RIPEMD160_Final(out.data(), &ctx);
    return out;
}

Hash160 hash160(ByteSpan data) {
    return ripemd160(sha256(data));
}

Sha256::Sha256() {
    SHA256_Init(reinterpret_cast<SHA256_CTX*>(m_state));
}

Sha256& Sha256::update(ByteSpan data) {
    return update(data.data(), data.size());
}

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
