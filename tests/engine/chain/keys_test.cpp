#include "engine/chain/keys.h"

#include <gtest/gtest.h>

#include "engine/chain/base58.h"
#include "engine/chain/ecdsa.h"

namespace raregen::chain {
namespace {

TEST(Base58, KnownValues) {
    EXPECT_EQ(base58_encode(*from_hex("")), "");
    EXPECT_EQ(base58_encode(*from_hex("61")), "2g");
    EXPECT_EQ(base58_encode(*from_hex("626262")), "a3gV");
    EXPECT_EQ(base58_encode(*from_hex("00000000000000000000")), "1111111111");
    EXPECT_EQ(base58_encode(*from_hex("00eb15231dfceb60925886b67d065299925915aeb172c06647")),
              "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L");
    EXPECT_EQ(to_hex(*base58_decode("1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L")),
              "00eb15231dfceb60925886b67d065299925915aeb172c06647");
    EXPECT_FALSE(base58_decode("0OIl"));
}

TEST(Base58, RoundTripRandom) {
    std::uint64_t x = 1;
    for (int i = 0; i < 500; ++i) {
        Bytes b(static_cast<std::size_t>(i % 40));
        for (auto& c : b)
            c = static_cast<std::uint8_t>((x = x * 6364136223846793005ULL + 1) >> 56);
        if (i % 5 == 0 && !b.empty()) b[0] = 0;
        EXPECT_EQ(*base58_decode(base58_encode(b)), b);
    }
}

TEST(Keys, WifRoundTripBothNetworks) {
    const PrivateKey k = PrivateKey::generate();
    for (Network net : {Network::mainnet, Network::testnet}) {
        for (bool compressed : {true, false}) {
            const std::string wif = encode_wif(k, net, compressed);
            // Leading characters: mainnet K/L (compressed) or 5; testnet c or 9.
            const std::string expected =
                net == Network::mainnet ? (compressed ? "KL" : "5") : (compressed ? "c" : "9");
            EXPECT_NE(expected.find(wif[0]), std::string::npos) << wif.substr(0, 1);
            const WifResult r = decode_wif(wif);
            ASSERT_TRUE(r.key);
            EXPECT_EQ(r.key->network, net);
            EXPECT_EQ(r.key->compressed, compressed);
            EXPECT_EQ(r.key->key.secret(), k.secret());
        }
    }
}

TEST(Keys, WifErrors) {
    EXPECT_EQ(decode_wif("not-a-key").error, WifError::not_base58check);
    // Valid base58check, wrong version byte (an address).
    EXPECT_EQ(decode_wif("1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH").error, WifError::bad_length);
    Bytes raw(34, 0x01);
    raw[0] = 0x42;
    EXPECT_EQ(decode_wif(base58check_encode(raw)).error, WifError::bad_prefix);
    raw[0] = 0x80;
    raw[33] = 0x02;
    EXPECT_EQ(decode_wif(base58check_encode(raw)).error, WifError::bad_compression_flag);
    Bytes zero(33, 0);
    zero[0] = 0x80;
    EXPECT_EQ(decode_wif(base58check_encode(zero)).error, WifError::out_of_range);
    // Messages never echo the input.
    EXPECT_EQ(std::string(wif_error_message(WifError::bad_prefix)).find("0x42"), std::string::npos);
}

TEST(Keys, KnownAddress) {
    // Private key 1: a well-known key; its compressed pubkey hash is 751e76e8...
    Bytes one(32, 0);
    one[31] = 1;
    const auto k = PrivateKey::from_bytes(one);
    ASSERT_TRUE(k);
    const PublicKey pk = public_key_of(*k);
    EXPECT_EQ(to_hex(pk.span()),
              "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
    EXPECT_EQ(to_hex(hash160(pk.span())), "751e76e8199196d454941c45d1b3a323f1433bd6");
    EXPECT_EQ(p2pkh_address(hash160(pk.span()), Network::mainnet),
              "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH");
    const PublicKey upk = public_key_of(*k, false);
    EXPECT_EQ(p2pkh_address(hash160(upk.span()), Network::mainnet),
              "1EHNa6Q4Jz2uvNExL497mE43ikXhwF6kZm");
    const auto d = decode_p2pkh_address("1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->network, Network::mainnet);
    EXPECT_EQ(to_hex(d->hash), "751e76e8199196d454941c45d1b3a323f1433bd6");
    EXPECT_EQ(p2pkh_address(d->hash, Network::testnet)[0], 'm');
}

TEST(Keys, OutOfRangeSecretsRefused) {
    EXPECT_FALSE(PrivateKey::from_bytes(Bytes(32, 0)));
    EXPECT_FALSE(PrivateKey::from_bytes(Bytes(32, 0xff)));
    EXPECT_FALSE(PrivateKey::from_bytes(Bytes(31, 1)));
}

TEST(Ecdsa, HighSAcceptedOnlyWhenAllowed) {
    const PrivateKey k = PrivateKey::generate();
    const PublicKey pk = public_key_of(k);
    const Hash256 digest = sha256(Bytes{1, 2, 3});
    DerSignature sig;
    ASSERT_TRUE(Secp256k1::for_this_thread().sign(digest, k, sig));
    auto& ctx = Secp256k1::for_this_thread();
    EXPECT_EQ(ctx.verify(digest, sig.span(), pk.span()), VerifyError::ok);
    // Build the high-S twin: s' = n - s, re-encoded as DER.
    const Bytes der(sig.span().begin(), sig.span().end());
    const std::size_t rlen = der[3];
    const std::size_t slen = der[5 + rlen];
    Bytes s(der.begin() + 6 + static_cast<std::ptrdiff_t>(rlen), der.end());
    ASSERT_EQ(s.size(), slen);
    const Bytes n = *from_hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    Bytes s32(32 - s.size(), 0);
    s32.insert(s32.end(), s.begin(), s.end());
    if (s32.size() > 32) s32.erase(s32.begin());
    Bytes hs(32);
    int borrow = 0;
    for (int i = 31; i >= 0; --i) {
        int d = n[i] - s32[i] - borrow;
        borrow = d < 0;
        hs[i] = static_cast<std::uint8_t>(d + (borrow ? 256 : 0));
    }
    Bytes hs_enc = hs;
    if (hs_enc[0] & 0x80) hs_enc.insert(hs_enc.begin(), 0);
    Bytes high(der.begin(), der.begin() + 4 + static_cast<std::ptrdiff_t>(rlen));
    high.push_back(0x02);
    high.push_back(static_cast<std::uint8_t>(hs_enc.size()));
    high.insert(high.end(), hs_enc.begin(), hs_enc.end());
    high[1] = static_cast<std::uint8_t>(high.size() - 2);
    EXPECT_EQ(ctx.verify(digest, high, pk.span()), VerifyError::high_s);
    EXPECT_EQ(ctx.verify(digest, high, pk.span(), true), VerifyError::ok);
    // A different digest fails; garbage is not DER.
    EXPECT_EQ(ctx.verify(sha256(Bytes{9}), sig.span(), pk.span()), VerifyError::bad_signature);
    EXPECT_EQ(ctx.verify(digest, Bytes{0x30, 0x01}, pk.span()), VerifyError::bad_der);
    EXPECT_EQ(ctx.verify(digest, sig.span(), Bytes(33, 7)), VerifyError::bad_public_key);
}

}  // namespace
}  // namespace raregen::chain
