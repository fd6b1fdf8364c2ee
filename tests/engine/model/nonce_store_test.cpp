#include "engine/model/nonce_store.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

namespace raregen::ingest {
namespace {

using namespace std::chrono_literals;

// prefix + decimal i. (GCC 12 -Wrestrict misfires on `"lit" + std::to_string(i)`.)
std::string numbered(std::string_view prefix, long long i) {
    std::string s(prefix);
    s += std::to_string(i);
    return s;
}

const WallTime k_t0{std::chrono::seconds{1714564800}};

std::array<std::uint8_t, 33> pubkey(std::uint8_t tag) {
    std::array<std::uint8_t, 33> k{};
    k.fill(tag);
    k[0] = 0x02;
    return k;
}

TEST(InMemoryNonceStore, RemembersPerPubkey) {
    InMemoryNonceStore store(100, 15min);
    const auto a = pubkey(1), b = pubkey(2);
    EXPECT_FALSE(store.check(a, "n1", k_t0));
    EXPECT_EQ(store.record(a, "n1", k_t0), NonceRecord::recorded);
    EXPECT_TRUE(store.check(a, "n1", k_t0 + 1s));
    EXPECT_FALSE(store.check(b, "n1", k_t0));
    EXPECT_FALSE(store.check(a, "n2", k_t0));
    EXPECT_FALSE(store.check(a, "n", k_t0));  // prefixes are different nonces
    EXPECT_EQ(store.record(a, "n1", k_t0), NonceRecord::replay);
    EXPECT_EQ(store.record(b, "n1", k_t0), NonceRecord::recorded);
    EXPECT_EQ(store.recorded_total(), 2u);
}

TEST(InMemoryNonceStore, ForgetsOnlyAfterTheRetention) {
    InMemoryNonceStore store(100, 15min);
    const auto a = pubkey(1);
    ASSERT_EQ(store.record(a, "n1", k_t0), NonceRecord::recorded);
    EXPECT_TRUE(store.check(a, "n1", k_t0 + 15min));         // exactly the retention: live
    EXPECT_FALSE(store.check(a, "n1", k_t0 + 15min + 1ns));  // past it: forgotten
    EXPECT_TRUE(store.check(a, "n1", k_t0 - 1h));            // clock stepped back: still live
    // Re-recording an expired pair refreshes its own slot.
    EXPECT_EQ(store.record(a, "n1", k_t0 + 20min), NonceRecord::recorded);
    EXPECT_TRUE(store.check(a, "n1", k_t0 + 30min));
}

TEST(InMemoryNonceStore, FullOfLiveEntriesRefusesInsteadOfForgetting) {
    InMemoryNonceStore store(4, 15min);
    ASSERT_EQ(store.slot_count(), 8u);  // bit_ceil(2 * capacity)
    const auto a = pubkey(1);
    for (int i = 0; i < 8; ++i) {
        ASSERT_EQ(store.record(a, numbered("n", i), k_t0 + std::chrono::seconds{i}),
                  NonceRecord::recorded);
    }
    EXPECT_EQ(store.record(a, "extra", k_t0 + 10s), NonceRecord::full);
    // Nothing was forgotten to make room.
    for (int i = 0; i < 8; ++i)
        EXPECT_TRUE(store.check(a, numbered("n", i), k_t0 + 10s));
    EXPECT_FALSE(store.check(a, "extra", k_t0 + 10s));
    // When the oldest entry (n0, at t0) expires, exactly one slot frees up.
    const WallTime later = k_t0 + 15min + 1ns;
    EXPECT_EQ(store.record(a, "extra", later), NonceRecord::recorded);
    EXPECT_EQ(store.record(a, "extra2", later), NonceRecord::full);
    EXPECT_TRUE(store.check(a, "extra", later));
    EXPECT_FALSE(store.check(a, "n0", later));
    EXPECT_TRUE(store.check(a, "n1", later));
}

TEST(InMemoryNonceStore, LargeTableHoldsItsCapacity) {
    constexpr std::size_t k_capacity = 5000;
    InMemoryNonceStore store(k_capacity, 15min);
    const auto a = pubkey(7);
    for (std::size_t i = 0; i < k_capacity; ++i) {
        ASSERT_EQ(store.record(a, numbered("nonce-", i), k_t0), NonceRecord::recorded) << i;
    }
    for (std::size_t i = 0; i < k_capacity; ++i) {
        ASSERT_TRUE(store.check(a, numbered("nonce-", i), k_t0)) << i;
    }
    // A whole new generation after the retention reuses the slots.
    for (std::size_t i = 0; i < k_capacity; ++i) {
        ASSERT_EQ(store.record(a, numbered("next-", i), k_t0 + 16min), NonceRecord::recorded) << i;
    }
    EXPECT_FALSE(store.check(a, "nonce-1", k_t0 + 16min));
    EXPECT_TRUE(store.check(a, "next-1", k_t0 + 16min));
}

TEST(InMemoryNonceStore, BadSettingsThrowAtStartUp) {
    EXPECT_THROW(InMemoryNonceStore(0, 15min), std::invalid_argument);
    EXPECT_THROW(InMemoryNonceStore(10, 0s), std::invalid_argument);
}

}  // namespace
}  // namespace raregen::ingest
