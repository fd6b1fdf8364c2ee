#pragma once
// Private keys, public keys, WIF and P2PKH addresses.
//
// A PrivateKey wipes its secret on destruction and never prints itself:
// nothing in this header formats a secret except encode_wif(), which callers
// use only when a user explicitly asked to see the key.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/chain/bytes.h"
#include "engine/chain/hash.h"

namespace raregen::chain {

enum class Network : std::uint8_t { mainnet, testnet };  // testnet also covers regtest

std::string_view network_name(Network net);

class PrivateKey {
  public:
    // A key from 32 secret bytes; nullopt unless 0 < secret < n (the curve order).
    static std::optional<PrivateKey> from_bytes(ByteSpan secret);
    // A fresh key from the OS CSPRNG. Throws std::runtime_error only if the
    // CSPRNG fails (start-up tier error).
    static PrivateKey generate();

    PrivateKey(const PrivateKey& other) = default;
    PrivateKey& operator=(const PrivateKey& other) = default;
    ~PrivateKey();

    const std::array<std::uint8_t, 32>& secret() const { return m_secret; }

  private:
    PrivateKey() = default;
    std::array<std::uint8_t, 32> m_secret{};
};

// A serialized public key: 33 bytes compressed or 65 uncompressed.
struct PublicKey {
    std::array<std::uint8_t, 65> bytes{};
    std::uint8_t size = 0;
    ByteSpan span() const { return {bytes.data(), size}; }
    bool compressed() const { return size == 33; }
};

struct WifKey {
    PrivateKey key;
    Network network;
    bool compressed;
};

// Why a WIF was refused; wif_error_message() says it in words (never echoing the input).
enum class WifError : std::uint8_t {
    not_base58check,
    bad_length,
    bad_prefix,
    bad_compression_flag,
    out_of_range
};
std::string_view wif_error_message(WifError e);

struct WifResult {
    std::optional<WifKey> key;
    WifError error = WifError::not_base58check;
};
WifResult decode_wif(std::string_view wif);
std::string encode_wif(const PrivateKey& key, Network net, bool compressed = true);

// Public key of `key` (uses the calling thread's secp256k1 context).
PublicKey public_key_of(const PrivateKey& key, bool compressed = true);

// base58check(version || hash160): version 0x00 mainnet, 0x6f testnet.
std::string p2pkh_address(const Hash160& pubkey_hash, Network net);
struct DecodedAddress {
    Hash160 hash;
    Network network;
};
std::optional<DecodedAddress> decode_p2pkh_address(std::string_view address);

}  // namespace raregen::chain
