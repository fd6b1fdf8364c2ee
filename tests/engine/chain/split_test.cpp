#include "engine/chain/split.h"

#include <gtest/gtest.h>

#include "engine/chain/verify.h"

namespace raregen::chain {
namespace {

Utxo funding_of(std::int64_t value) {
    Utxo u;
    u.outpoint.txid.fill(0x5a);
    u.outpoint.vout = 3;
    u.value = value;
    return u;
}

TEST(Split, OutputsChangeAndFeeAddUpAndTheSignatureVerifies) {
    const PublicationKey key(PrivateKey::generate());
    const FeeRate rate{100, 1000};
    const SplitResult r = build_split(key, funding_of(1'000'000), 500, 100, rate);
    ASSERT_TRUE(r.ok()) << r.error;
    ASSERT_EQ(r.tx.outputs.size(), 501u);
    std::int64_t out = 0;
    for (std::size_t i = 0; i < 500; ++i) {
        EXPECT_EQ(r.tx.outputs[i].value, 100);
        Hash160 h;
        ASSERT_TRUE(parse_p2pkh_locking_script(r.tx.outputs[i].script, h));
        EXPECT_EQ(h, key.pubkey_hash());
        out += r.tx.outputs[i].value;
    }
    EXPECT_EQ(r.tx.outputs.back().value, r.change);
    out += r.change;
    EXPECT_EQ(static_cast<std::uint64_t>(1'000'000 - out), r.fee);
    // The fee pays the policy for the real size, and not much more.
    EXPECT_GE(r.fee, rate.fee_for(standard_size(r.tx)));
    EXPECT_LE(r.fee, rate.fee_for(standard_size(r.tx) + 2));
    EXPECT_EQ(r.txid, compute_txid(r.tx));
    const SighashCache cache = SighashCache::compute(r.tx);
    EXPECT_EQ(verify_p2pkh_input(r.tx, cache, 0, *r.tx.inputs[0].prev), InputVerifyError::ok);
    Bytes ef;
    EXPECT_TRUE(serialize(r.tx, TxFormat::extended, ef));
}

TEST(Split, TooLittleFundingIsRefusedWithTheNumbers) {
    const PublicationKey key(PrivateKey::generate());
    const SplitResult r = build_split(key, funding_of(10'000), 100, 100, FeeRate{100, 1000});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error.find("10000"), std::string::npos) << r.error;
}

TEST(Split, NoChangeOutputWhenNothingIsLeftForIt) {
    const PublicationKey key(PrivateKey::generate());
    // Exactly outputs + fee without change: the remainder stays fee.
    const SplitResult probe = build_split(key, funding_of(1'000'000), 10, 100, FeeRate{100, 1000});
    ASSERT_TRUE(probe.ok());
    const std::int64_t tight = 1000 + static_cast<std::int64_t>(probe.fee) - 1;
    const SplitResult r = build_split(key, funding_of(tight), 10, 100, FeeRate{100, 1000});
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.tx.outputs.size(), 10u);
    EXPECT_EQ(r.change, 0);
    const SighashCache cache = SighashCache::compute(r.tx);
    EXPECT_EQ(verify_p2pkh_input(r.tx, cache, 0, *r.tx.inputs[0].prev), InputVerifyError::ok);
}

}  // namespace
}  // namespace raregen::chain
