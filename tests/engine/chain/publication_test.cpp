#include "engine/chain/publication.h"

#include <gtest/gtest.h>

#include <cctype>

#include "engine/chain/script.h"
#include "engine/chain/verify.h"
#include "tests/support/alloc_counter.h"

namespace raregen::chain {
namespace {

PublicationKey test_key() {
    Bytes secret(32, 0);
    secret[31] = 7;
    return PublicationKey(*PrivateKey::from_bytes(secret));
}

Utxo test_utxo(std::int64_t value) {
    Utxo u;
    u.outpoint.txid.fill(0x5a);
    u.outpoint.vout = 2;
    u.value = value;
    return u;
}

TEST(Publication, RaregenPayloadShape) {
    Hash256 h;
    for (std::size_t i = 0; i < 32; ++i)
        h[i] = static_cast<std::uint8_t>(i);
    const RaregenPayload p = raregen_payload(h);
    const std::string s(p.bytes.begin(), p.bytes.end());
    EXPECT_EQ(s, R"({"p":"sl-drm","v":1,"hash":")" + to_hex(h) + R"("})");
    EXPECT_EQ(s.size(), 94u);
}

TEST(Publication, PublishedRecordHashReadsBackWhatWasWrittenAndNothingElse) {
    const PublicationKey key = test_key();
    Hash256 h;
    for (std::size_t i = 0; i < 32; ++i)
        h[i] = static_cast<std::uint8_t>(0xf0 - i);
    const RaregenPayload payload = raregen_payload(h);
    const ByteSpan pushes[1] = {payload.span()};
    PublicationBuilder b;
    Bytes raw;
    ASSERT_TRUE(
        b.build(key, test_utxo(100), pushes, PublicationOptions{.change = true}, raw, nullptr)
            .ok());
    Transaction tx;
    ASSERT_TRUE(parse_transaction(raw, tx).ok());
    const auto back = published_record_hash(tx);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, h);
    // Not a publication: the same shape with upper-case hex, another
    // protocol tag, or no data output at all.
    auto with_payload = [&](std::string text) {
        Transaction t = tx;
        Bytes script;
        Writer w(script);
        const ByteSpan one[1] = {
            ByteSpan(reinterpret_cast<const std::uint8_t*>(text.data()), text.size())};
        write_data_script(w, one);
        t.outputs[0].script = script;
        return published_record_hash(t);
    };
    const std::string good(payload.bytes.begin(), payload.bytes.end());
    EXPECT_TRUE(with_payload(good).has_value());
    std::string upper = good;
    for (std::size_t i = 28; i < 92; ++i)
        upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
    EXPECT_FALSE(with_payload(upper).has_value());
    std::string other = good;
    other.replace(6, 6, "xx-drm");
    EXPECT_FALSE(with_payload(other).has_value());
    Transaction none = tx;
    none.outputs.erase(none.outputs.begin());
    EXPECT_FALSE(published_record_hash(none).has_value());
}

// docs/protocol.md §4: the RareGen payload with one P2PKH input and change is 299
// bytes (298 with a 70-byte DER signature), 30 sat at 100 sat/kB, 70 sat change.
TEST(Publication, SeedSizesAndFee) {
    const PublicationKey key = test_key();
    const RaregenPayload payload = raregen_payload(Hash256{});
    const ByteSpan pushes[] = {payload.span()};
    PublicationBuilder b;
    PublicationOptions opt;
    opt.change = true;
    Bytes raw, ef;
    EXPECT_EQ(PublicationBuilder::estimated_size(key, pushes, true), 299u);
    const BuildResult r = b.build(key, test_utxo(100), pushes, opt, raw, &ef);
    ASSERT_TRUE(r.ok()) << build_error_message(r);
    EXPECT_TRUE(raw.size() == 299 || raw.size() == 298) << raw.size();
    EXPECT_EQ(r.fee, 30u);
    EXPECT_EQ(r.change, 70);
    EXPECT_EQ(ef.size(), raw.size() + 6 + 34);
    EXPECT_EQ(r.txid, sha256d(raw));

    Transaction tx;
    ASSERT_TRUE(parse_transaction(raw, tx).ok());
    ASSERT_EQ(tx.outputs.size(), 2u);
    EXPECT_EQ(tx.outputs[0].value, 0);
    EXPECT_EQ(classify_script(tx.outputs[0].script), ScriptType::data);
    std::vector<ByteSpan> got;
    ASSERT_TRUE(parse_data_script(tx.outputs[0].script, got));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(
        std::equal(got[0].begin(), got[0].end(), payload.bytes.begin(), payload.bytes.end()));
    EXPECT_EQ(tx.outputs[1].value, 70);
    EXPECT_EQ(to_hex(tx.outputs[1].script), to_hex(key.locking_script()));
    const TxOut prev{100, Bytes(key.locking_script().begin(), key.locking_script().end())};
    EXPECT_EQ(verify_p2pkh_input(tx, SighashCache::compute(tx), 0, prev), InputVerifyError::ok);

    Transaction from_ef;
    ASSERT_TRUE(parse_transaction(ef, from_ef).ok());
    EXPECT_EQ(compute_txid(from_ef), r.txid);
    EXPECT_EQ(from_ef.inputs[0].prev->value, 100);
}

TEST(Publication, NoChangeLeavesRemainderAsFee) {
    const PublicationKey key = test_key();
    const RaregenPayload payload = raregen_payload(Hash256{});
    const ByteSpan pushes[] = {payload.span()};
    PublicationBuilder b;
    Bytes raw;
    const BuildResult r = b.build(key, test_utxo(100), pushes, {}, raw, nullptr);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.fee, 100u);
    EXPECT_EQ(r.change, 0);
    Transaction tx;
    ASSERT_TRUE(parse_transaction(raw, tx).ok());
    EXPECT_EQ(tx.outputs.size(), 1u);
}

// A UTXO worth more than a publication needs is never burnt as fee: without
// change, a fee above max(10 x the rate's fee, 1,000 sat) is refused before
// anything is signed; with change the same UTXO is fine.
TEST(Publication, AFeeAboveTheCeilingIsRefusedBeforeSigning) {
    const PublicationKey key = test_key();
    const RaregenPayload payload = raregen_payload(Hash256{});
    const ByteSpan pushes[] = {payload.span()};
    PublicationBuilder b;
    Bytes raw{1, 2, 3};
    const BuildResult big = b.build(key, test_utxo(961'722), pushes, {}, raw, nullptr);
    EXPECT_EQ(big.error, BuildError::fee_above_ceiling);
    EXPECT_EQ(big.available, 961'722u);
    EXPECT_EQ(big.needed, 1'000u);  // 10 x 27 sat is under the floor
    EXPECT_NE(build_error_message(big).find("ceiling"), std::string::npos);
    EXPECT_TRUE(raw.empty()) << "nothing signed";
    // The edge: exactly the ceiling passes, one more does not.
    EXPECT_TRUE(b.build(key, test_utxo(1'000), pushes, {}, raw, nullptr).ok());
    EXPECT_EQ(b.build(key, test_utxo(1'001), pushes, {}, raw, nullptr).error,
              BuildError::fee_above_ceiling);
    // The multiple rules when it is larger than the floor.
    PublicationOptions steep;
    steep.fee_rate = FeeRate{50'000, 1'000};  // 13,200 sat for the 264-byte tx
    const std::uint64_t fee =
        steep.fee_rate.fee_for(PublicationBuilder::estimated_size(key, pushes, false));
    EXPECT_TRUE(
        b.build(key, test_utxo(static_cast<std::int64_t>(fee * 10)), pushes, steep, raw, nullptr)
            .ok());
    EXPECT_EQ(b.build(key, test_utxo(static_cast<std::int64_t>(fee * 10 + 1)), pushes, steep, raw,
                      nullptr)
                  .error,
              BuildError::fee_above_ceiling);
    // With change the remainder goes back to the key.
    PublicationOptions change;
    change.change = true;
    const BuildResult kept = b.build(key, test_utxo(961'722), pushes, change, raw, nullptr);
    ASSERT_TRUE(kept.ok());
    EXPECT_LT(kept.fee, 100u);
    EXPECT_EQ(kept.change, static_cast<std::int64_t>(961'722 - kept.fee));
}

TEST(Publication, DeterministicSignatures) {
    const PublicationKey key = test_key();
    const Bytes data{1, 2, 3};
    const ByteSpan pushes[] = {data};
    PublicationBuilder b1, b2;
    Bytes raw1, raw2;
    ASSERT_TRUE(b1.build(key, test_utxo(1000), pushes, {}, raw1, nullptr).ok());
    ASSERT_TRUE(b2.build(key, test_utxo(1000), pushes, {}, raw2, nullptr).ok());
    EXPECT_EQ(raw1, raw2);
}

TEST(Publication, InsufficientFunds) {
    const PublicationKey key = test_key();
    const Bytes data(1000, 0x61);
    const ByteSpan pushes[] = {data};
    PublicationBuilder b;
    Bytes raw;
    PublicationOptions opt;
    opt.change = true;
    const BuildResult r = b.build(key, test_utxo(100), pushes, opt, raw, nullptr);
    EXPECT_EQ(r.error, BuildError::insufficient_funds);
    EXPECT_EQ(r.available, 100u);
    EXPECT_EQ(r.needed,
              opt.fee_rate.fee_for(PublicationBuilder::estimated_size(key, pushes, true)) + 1);
    EXPECT_NE(build_error_message(r).find("cannot pay"), std::string::npos);
    // A fee that exactly consumes the input is fine without change, refused with change.
    const std::uint64_t fee =
        opt.fee_rate.fee_for(PublicationBuilder::estimated_size(key, pushes, true));
    EXPECT_EQ(
        b.build(key, test_utxo(static_cast<std::int64_t>(fee)), pushes, opt, raw, nullptr).error,
        BuildError::insufficient_funds);
    EXPECT_TRUE(
        b.build(key, test_utxo(static_cast<std::int64_t>(fee) + 1), pushes, opt, raw, nullptr)
            .ok());
}

TEST(Publication, PayloadLimit) {
    const PublicationKey key = test_key();
    const Bytes a(60, 1), c(41, 2);
    const ByteSpan pushes[] = {a, c};
    PublicationOptions opt;
    opt.max_payload = 100;
    PublicationBuilder b;
    Bytes raw;
    const BuildResult r = b.build(key, test_utxo(100000), pushes, opt, raw, nullptr);
    EXPECT_EQ(r.error, BuildError::payload_too_large);
    EXPECT_EQ(r.needed, 101u);
    opt.max_payload = 101;
    EXPECT_TRUE(b.build(key, test_utxo(1000), pushes, opt, raw, nullptr).ok());
}

TEST(Publication, SeveralAndEmptyPushes) {
    const PublicationKey key = test_key();
    const Bytes empty, big(300, 7), mid(76, 9);
    const ByteSpan pushes[] = {empty, big, mid};
    PublicationBuilder b;
    Bytes raw;
    const BuildResult r = b.build(key, test_utxo(1000), pushes, {}, raw, nullptr);
    ASSERT_TRUE(r.ok()) << build_error_message(r);
    Transaction tx;
    ASSERT_TRUE(parse_transaction(raw, tx).ok());
    std::vector<ByteSpan> got;
    ASSERT_TRUE(parse_data_script(tx.outputs[0].script, got));
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].size(), 0u);
    EXPECT_EQ(got[1].size(), 300u);
    EXPECT_EQ(got[2].size(), 76u);
    const TxOut prev{1000, Bytes(key.locking_script().begin(), key.locking_script().end())};
    EXPECT_EQ(verify_p2pkh_input(tx, SighashCache::compute(tx), 0, prev), InputVerifyError::ok);
    // Tampering with the data breaks the signature.
    tx.outputs[0].script.back() ^= 1;
    EXPECT_EQ(verify_p2pkh_input(tx, SighashCache::compute(tx), 0, prev),
              InputVerifyError::bad_signature);
}

TEST(Publication, NoAllocationAfterWarmUp) {
    if (!test::alloc_counting_available())
        GTEST_SKIP() << "allocation counting is off in sanitizer builds";
    const PublicationKey key = test_key();
    PublicationBuilder b;
    Bytes raw, ef;
    raw.reserve(512);
    ef.reserve(512);
    PublicationOptions opt;
    opt.change = true;
    Hash256 record{};
    {  // warm up: first use creates the thread's secp256k1 context and grows buffers
        const RaregenPayload p = raregen_payload(record);
        const ByteSpan pushes[] = {p.span()};
        ASSERT_TRUE(b.build(key, test_utxo(100), pushes, opt, raw, &ef).ok());
    }
    test::start_counting_allocations();
    int built = 0;
    for (int i = 0; i < 2000; ++i) {
        record[0] = static_cast<std::uint8_t>(i);
        record[1] = static_cast<std::uint8_t>(i >> 8);
        const RaregenPayload p = raregen_payload(record);
        const ByteSpan pushes[] = {p.span()};
        Utxo u = test_utxo(100);
        u.outpoint.vout = static_cast<std::uint32_t>(i);
        built += b.build(key, u, pushes, opt, raw, &ef).ok() ? 1 : 0;
    }
    const std::uint64_t allocations = test::stop_counting_allocations();
    EXPECT_EQ(built, 2000);
    EXPECT_EQ(allocations, 0u) << "malloc-family calls while building 2000 transactions";
}

}  // namespace
}  // namespace raregen::chain
