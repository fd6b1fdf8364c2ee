#include "engine/chain/keys.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <stdexcept>

#include "engine/chain/base58.h"
#include "engine/chain/ecdsa.h"

namespace raregen::chain {

namespace {
constexpr std::uint8_t k_wif_mainnet = 0x80;
constexpr std::uint8_t k_wif_testnet = 0xef;
constexpr std::uint8_t k_p2pkh_mainnet = 0x00;
constexpr std::uint8_t k_p2pkh_testnet = 0x6f;
}  // namespace

std::string_view network_name(Network net) {
    return net == Network::mainnet ? "mainnet" : "testnet";
}

PrivateKey::~PrivateKey() {
    OPENSSL_cleanse(m_secret.data(), m_secret.size());
}

std::optional<PrivateKey> PrivateKey::from_bytes(ByteSpan secret) {
    if (!Secp256k1::for_this_thread().valid_secret(secret)) return std::nullopt;
    PrivateKey k;
    std::copy(secret.begin(), secret.end(), k.m_secret.begin());
    return k;
}

PrivateKey PrivateKey::generate() {
    PrivateKey k;
    // A random 32-byte string is out of range with probability ~2^-128; loop anyway.
    for (int attempt = 0; attempt < 16; ++attempt) {
        if (RAND_bytes(k.m_secret.data(), static_cast<int>(k.m_secret.size())) != 1)
            throw std::runtime_error("cannot read the OS random number generator");
        if (Secp256k1::for_this_thread().valid_secret(k.m_secret)) return k;
    }
    throw std::runtime_error("random number generator produced no valid key");
}

std::string_view wif_error_message(WifError e) {
    switch (e) {
        case WifError::not_base58check:
            return "not a WIF key: not valid base58check (bad character or checksum)";
        case WifError::bad_length:
            return "not a WIF key: wrong length";
        case WifError::bad_prefix:
            return "not a WIF key: version byte is neither 0x80 (mainnet) nor 0xef (testnet)";
        case WifError::bad_compression_flag:
            return "not a WIF key: compression flag is not 0x01";
        case WifError::out_of_range:
            return "WIF key is out of range for secp256k1";
    }
    return "not a WIF key";
}

WifResult decode_wif(std::string_view wif) {
    WifResult r;
    auto raw = base58check_decode(wif);
    if (!raw) return r;
    const bool compressed = raw->size() == 34;
    if (raw->size() != 33 && raw->size() != 34) {
        r.error = WifError::bad_length;
    } else if ((*raw)[0] != k_wif_mainnet && (*raw)[0] != k_wif_testnet) {
        r.error = WifError::bad_prefix;
    } else if (compressed && (*raw)[33] != 0x01) {
        r.error = WifError::bad_compression_flag;
    } else if (auto key = PrivateKey::from_bytes(ByteSpan(raw->data() + 1, 32))) {
        r.key = WifKey{*key, (*raw)[0] == k_wif_mainnet ? Network::mainnet : Network::testnet,
                       compressed};
    } else {
        r.error = WifError::out_of_range;
    }
    OPENSSL_cleanse(raw->data(), raw->size());
    return r;
}

std::string encode_wif(const PrivateKey& key, Network net, bool compressed) {
    Bytes raw;
    raw.reserve(34);
    raw.push_back(net == Network::mainnet ? k_wif_mainnet : k_wif_testnet);
    raw.insert(raw.end(), key.secret().begin(), key.secret().end());
    if (compressed) raw.push_back(0x01);
    std::string out = base58check_encode(raw);
    OPENSSL_cleanse(raw.data(), raw.size());
    return out;
}

PublicKey public_key_of(const PrivateKey& key, bool compressed) {
    PublicKey pk;
    if (!Secp256k1::for_this_thread().public_key(key, compressed, pk))
        throw std::logic_error("public_key_of: invalid private key");  // ruled out by PrivateKey
    return pk;
}

std::string p2pkh_address(const Hash160& pubkey_hash, Network net) {
    std::array<std::uint8_t, 21> raw{};
    raw[0] = net == Network::mainnet ? k_p2pkh_mainnet : k_p2pkh_testnet;
    std::copy(pubkey_hash.begin(), pubkey_hash.end(), raw.begin() + 1);
    return base58check_encode(raw);
}

std::optional<DecodedAddress> decode_p2pkh_address(std::string_view address) {
    auto raw = base58check_decode(address);
    if (!raw || raw->size() != 21) return std::nullopt;
    if ((*raw)[0] != k_p2pkh_mainnet && (*raw)[0] != k_p2pkh_testnet) return std::nullopt;
    DecodedAddress d;
    std::copy(raw->begin() + 1, raw->end(), d.hash.begin());
    d.network = (*raw)[0] == k_p2pkh_mainnet ? Network::mainnet : Network::testnet;
    return d;
}

}  // namespace raregen::chain
