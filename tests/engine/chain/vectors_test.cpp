// Every vector of shared/testdata/vectors.json, byte for byte.
#include <gtest/gtest.h>

#include "engine/chain/bytes.h"
#include "engine/chain/ecdsa.h"
#include "engine/chain/keys.h"
#include "engine/chain/script.h"
#include "engine/chain/sighash.h"
#include "engine/chain/tx.h"
#include "engine/chain/verify.h"
#include "tests/engine/chain/test_data.h"

namespace raregen::chain {
namespace {

const nlohmann::json& vectors() {
    static const nlohmann::json v = test::load_test_json("vectors.json");
    return v;
}

TEST(Vectors, Rfc6979LowSDer) {
    const auto& sec = vectors()["rfc6979_low_s_der"];
    const std::string msg = sec["message"].get<std::string>();
    const Hash256 digest =
        sha256d(ByteSpan(reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size()));
    int n = 0;
    for (const auto& c : sec["cases"]) {
        const WifResult w = decode_wif(c["wif"].get<std::string>());
        ASSERT_TRUE(w.key) << wif_error_message(w.error);
        EXPECT_FALSE(w.key->compressed);
        DerSignature sig;
        ASSERT_TRUE(Secp256k1::for_this_thread().sign(digest, w.key->key, sig));
        EXPECT_EQ(to_hex(sig.span()), c["der"].get<std::string>());
        // And it verifies with the matching public key.
        const PublicKey pk = public_key_of(w.key->key, false);
        EXPECT_EQ(Secp256k1::for_this_thread().verify(digest, sig.span(), pk.span()),
                  VerifyError::ok);
        ++n;
    }
    EXPECT_EQ(n, 2);
}

TEST(Vectors, P2pkhSpendForkid) {
    const auto& v = vectors()["p2pkh_spend_forkid"];
    const WifResult w = decode_wif(v["wif"].get<std::string>());
    ASSERT_TRUE(w.key);
    EXPECT_EQ(w.key->network, Network::testnet);
    EXPECT_TRUE(w.key->compressed);
    const PublicKey pk = public_key_of(w.key->key);
    EXPECT_EQ(to_hex(hash160(pk.span())), v["pubkey_hash160"].get<std::string>());

    const TxOut prev{v["spent_output"]["satoshis"].get<std::int64_t>(),
                     *from_hex(v["spent_output"]["locking_script"].get<std::string>())};
    EXPECT_EQ(to_hex(p2pkh_locking_script(hash160(pk.span()))), to_hex(prev.script));

    Transaction tx;
    ASSERT_TRUE(parse_transaction(*from_hex(v["unsigned_tx"].get<std::string>()), tx).ok());
    const auto type = v["sighash_type"].get<std::uint32_t>();
    const Hash256 digest = signature_hash(tx, 0, prev.script, prev.value, type);
    EXPECT_EQ(to_hex(digest), v["sighash_internal"].get<std::string>());

    DerSignature sig;
    ASSERT_TRUE(Secp256k1::for_this_thread().sign(digest, w.key->key, sig));
    Bytes unlock;
    Writer uw(unlock);
    Bytes sig_with_type(sig.span().begin(), sig.span().end());
    sig_with_type.push_back(static_cast<std::uint8_t>(type));
    write_push(uw, sig_with_type);
    write_push(uw, pk.span());
    tx.inputs[0].script_sig = unlock;

    const Bytes signed_raw = serialize(tx);
    EXPECT_EQ(to_hex(signed_raw), v["signed_tx"].get<std::string>());
    EXPECT_EQ(hash_to_display(compute_txid(tx)), v["txid"].get<std::string>());
    EXPECT_EQ(signed_raw.size(), v["size"].get<std::size_t>());
    EXPECT_EQ(verify_p2pkh_input(tx, SighashCache::compute(tx), 0, prev), InputVerifyError::ok);
}

TEST(Vectors, PushPrefixes) {
    int n = 0;
    for (const auto& c : vectors()["op_return_push_prefixes"]) {
        const auto len = c["data_len"].get<std::size_t>();
        Bytes data(len, 0xab), out;
        Writer w(out);
        write_push(w, data);
        const std::string prefix = c["prefix"].get<std::string>();
        EXPECT_EQ(to_hex(ByteSpan(out.data(), prefix.size() / 2)), prefix) << "len " << len;
        EXPECT_EQ(out.size(), push_prefix_size(len) + len);
        // And the push parses back to the same data.
        std::vector<ByteSpan> pushes;
        ASSERT_TRUE(parse_pushes(out, pushes));
        ASSERT_EQ(pushes.size(), 1u);
        EXPECT_EQ(pushes[0].size(), len);
        ++n;
    }
    EXPECT_EQ(n, 7);
}

TEST(Vectors, OpReturnExample) {
    const auto& v = vectors()["op_return_example"];
    const std::string text = v["data_ascii"].get<std::string>();
    const ByteSpan data(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    Bytes script;
    Writer w(script);
    const ByteSpan pushes[] = {data};
    write_data_script(w, pushes);
    EXPECT_EQ(to_hex(script), v["locking_script"].get<std::string>());
    EXPECT_EQ(classify_script(script), ScriptType::data);

    Transaction tx;
    tx.outputs.push_back(TxOut{0, script});
    Bytes full = serialize(tx);
    // version(4) n_in(1) n_out(1) | output | lock_time(4)
    const Bytes output(full.begin() + 6, full.end() - 4);
    EXPECT_EQ(to_hex(output), v["serialized_output"].get<std::string>());
}

}  // namespace
}  // namespace raregen::chain
