#include <gtest/gtest.h>

#include "engine/chain/fees.h"
#include "engine/chain/script.h"

namespace raregen::chain {
namespace {

TEST(Fees, RoundsUpWithMinimumOne) {
    const FeeRate r{100, 1000};
    EXPECT_EQ(r.fee_for(299), 30u);
    EXPECT_EQ(r.fee_for(298), 30u);
    EXPECT_EQ(r.fee_for(291), 30u);
    EXPECT_EQ(r.fee_for(290), 29u);
    EXPECT_EQ(r.fee_for(1), 1u);
    EXPECT_EQ(r.fee_for(0), 1u);
    EXPECT_EQ((FeeRate{1, 1000}).fee_for(299), 1u);
    EXPECT_EQ((FeeRate{0, 1000}).fee_for(299), 1u);
    EXPECT_EQ((FeeRate{50, 1}).fee_for(10), 500u);
}

TEST(Fees, Parse) {
    EXPECT_EQ(parse_fee_rate("100/1000")->satoshis, 100u);
    EXPECT_EQ(parse_fee_rate("100/1000")->bytes, 1000u);
    EXPECT_EQ(parse_fee_rate("5")->bytes, 1000u);
    EXPECT_FALSE(parse_fee_rate("1/0"));
    EXPECT_FALSE(parse_fee_rate("x/1"));
    EXPECT_FALSE(parse_fee_rate("1/"));
    EXPECT_FALSE(parse_fee_rate("-1/1000"));
    EXPECT_FALSE(parse_fee_rate("99999999999999/1"));
    EXPECT_TRUE((FeeRate{100, 1000}).at_least(FeeRate{1, 10}));
    EXPECT_FALSE((FeeRate{99, 1000}).at_least(FeeRate{1, 10}));
}

TEST(Script, P2pkhRoundTrip) {
    Hash160 h;
    for (std::size_t i = 0; i < 20; ++i)
        h[i] = static_cast<std::uint8_t>(i * 3);
    const P2pkhScript s = p2pkh_locking_script(h);
    EXPECT_EQ(to_hex(s), "76a914" + to_hex(h) + "88ac");
    Hash160 back{};
    ASSERT_TRUE(parse_p2pkh_locking_script(s, back));
    EXPECT_EQ(back, h);
    EXPECT_EQ(classify_script(s), ScriptType::p2pkh);
    Bytes bad(s.begin(), s.end());
    bad[24] = 0xad;
    EXPECT_FALSE(parse_p2pkh_locking_script(bad, back));
    EXPECT_EQ(classify_script(bad), ScriptType::other);
}

TEST(Script, DataScriptsAndMalformedPushes) {
    EXPECT_EQ(classify_script(*from_hex("006a")), ScriptType::data);
    EXPECT_EQ(classify_script(*from_hex("006a00")), ScriptType::data);
    EXPECT_EQ(classify_script(*from_hex("6a0568656c6c6f")), ScriptType::other);
    std::vector<ByteSpan> out;
    EXPECT_FALSE(parse_data_script(*from_hex("006a05aabb"), out));        // push past end
    EXPECT_FALSE(parse_data_script(*from_hex("006a4c"), out));            // missing length
    EXPECT_FALSE(parse_data_script(*from_hex("006a4dff"), out));          // short length
    EXPECT_FALSE(parse_data_script(*from_hex("006a4effffffff00"), out));  // 4 GB claimed
    EXPECT_FALSE(parse_data_script(*from_hex("006a76"), out));            // not a push
    ASSERT_TRUE(parse_data_script(*from_hex("006a01ff4c0100"), out));
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1].size(), 1u);
}

}  // namespace
}  // namespace raregen::chain
