#include "engine/model/utxo_ring.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "tests/storage/utxo/utxo_test_util.h"

namespace raregen::utxo {
namespace {

using testing::numbered_utxo;
using testing::same_utxo;

TEST(UtxoRing, RefusesZeroAndHugeCapacity) {
    EXPECT_THROW(UtxoRing(0), std::invalid_argument);
    EXPECT_THROW(UtxoRing(UtxoRing::k_max_capacity + 1), std::invalid_argument);
}

// docs/design.md: a million-UTXO ring in well under 256 MB.
TEST(UtxoRing, MillionSlotsFitTheMemoryBudget) {
    EXPECT_EQ(sizeof(chain::Utxo), 48u);
    constexpr std::size_t k_million = 1'000'000;
    EXPECT_LT(sizeof(chain::Utxo) * k_million, std::size_t{64} << 20);
    UtxoRing ring(k_million);  // really allocate it: 48 MB
    EXPECT_EQ(ring.capacity(), k_million);
    EXPECT_EQ(ring.depth(), 0u);
    EXPECT_TRUE(ring.try_push(numbered_utxo(1)));
    EXPECT_EQ(ring.depth(), 1u);
}

TEST(UtxoRing, FillsToCapacityThenRefuses) {
    UtxoRing ring(3);
    EXPECT_EQ(ring.free_slots(), 3u);
    for (std::uint64_t i = 0; i < 3; ++i)
        EXPECT_TRUE(ring.try_push(numbered_utxo(i)));
    EXPECT_FALSE(ring.try_push(numbered_utxo(3)));
    EXPECT_EQ(ring.depth(), 3u);
    EXPECT_EQ(ring.size(), 3u);
    EXPECT_EQ(ring.free_slots(), 0u);
    EXPECT_EQ(ring.available(), 3u);
    EXPECT_EQ(ring.pushed(), 3u);
}

TEST(UtxoRing, PopsInPushOrderAndEmptyLeavesOutputUntouched) {
    UtxoRing ring(4);
    for (std::uint64_t i = 0; i < 4; ++i)
        ASSERT_TRUE(ring.try_push(numbered_utxo(i)));
    for (std::uint64_t i = 0; i < 4; ++i) {
        chain::Utxo out;
        ASSERT_TRUE(ring.try_pop(out));
        EXPECT_TRUE(same_utxo(out, numbered_utxo(i))) << i;
    }
    chain::Utxo sentinel = numbered_utxo(99);
    EXPECT_FALSE(ring.try_pop(sentinel));
    EXPECT_TRUE(same_utxo(sentinel, numbered_utxo(99)));
    EXPECT_EQ(ring.depth(), 0u);
    EXPECT_EQ(ring.popped(), 4u);
}

TEST(UtxoRing, BulkPushTakesThePrefixThatFits) {
    UtxoRing ring(4);
    std::vector<chain::Utxo> in;
    for (std::uint64_t i = 0; i < 6; ++i)
        in.push_back(numbered_utxo(i));
    EXPECT_EQ(ring.try_push_bulk(in), 4u);
    EXPECT_EQ(ring.try_push_bulk(in), 0u);
    std::vector<chain::Utxo> out(10);
    ASSERT_EQ(ring.try_pop_bulk(out), 4u);
    for (std::uint64_t i = 0; i < 4; ++i)
        EXPECT_TRUE(same_utxo(out[i], in[i])) << i;
}

// Bulk copies split in two where the slots wrap around the end of the array.
TEST(UtxoRing, BulkOperationsWrapAroundInOrder) {
    UtxoRing ring(5);
    std::uint64_t next_in = 0;
    std::uint64_t next_out = 0;
    std::vector<chain::Utxo> buf(7);
    for (int round = 0; round < 50; ++round) {
        const std::size_t push_n = 1 + static_cast<std::size_t>(round % 5);
        std::vector<chain::Utxo> in;
        for (std::size_t k = 0; k < push_n; ++k)
            in.push_back(numbered_utxo(next_in + k));
        const std::size_t pushed = ring.try_push_bulk(in);
        next_in += pushed;
        const std::size_t pop_n = 1 + static_cast<std::size_t>((round * 3) % 7);
        const std::size_t popped = ring.try_pop_bulk(std::span<chain::Utxo>(buf.data(), pop_n));
        for (std::size_t k = 0; k < popped; ++k) {
            ASSERT_TRUE(same_utxo(buf[k], numbered_utxo(next_out))) << "round " << round;
            ++next_out;
        }
        ASSERT_EQ(ring.depth(), next_in - next_out);
    }
    EXPECT_GT(next_out, 50u);  // the ring wrapped many times
}

// Each UTXO pushed comes out once: after everything is popped the ring has
// nothing more to give, however often it is asked.
TEST(UtxoRing, HandsEachUtxoOutOnce) {
    UtxoRing ring(64);
    std::set<std::pair<chain::Hash256, std::uint32_t>> seen;
    std::uint64_t next = 0;
    for (int round = 0; round < 20; ++round) {
        while (ring.try_push(numbered_utxo(next)))
            ++next;
        chain::Utxo u;
        while (ring.try_pop(u)) {
            EXPECT_TRUE(seen.insert({u.outpoint.txid, u.outpoint.vout}).second);
        }
        EXPECT_FALSE(ring.try_pop(u));
        std::vector<chain::Utxo> out(8);
        EXPECT_EQ(ring.try_pop_bulk(out), 0u);
    }
    EXPECT_EQ(seen.size(), next);
    EXPECT_EQ(ring.pushed(), ring.popped());
}

TEST(UtxoRing, AvailableAndFreeSlotsAreExactForTheirOwnSide) {
    UtxoRing ring(10);
    std::vector<chain::Utxo> in(7, numbered_utxo(1));
    ASSERT_EQ(ring.try_push_bulk(in), 7u);
    EXPECT_EQ(ring.available(), 7u);
    EXPECT_EQ(ring.free_slots(), 3u);
    std::vector<chain::Utxo> out(ring.available());
    EXPECT_EQ(ring.try_pop_bulk(out), 7u);  // available() promised exactly this many
    EXPECT_EQ(ring.free_slots(), 10u);
}

}  // namespace
}  // namespace raregen::utxo
