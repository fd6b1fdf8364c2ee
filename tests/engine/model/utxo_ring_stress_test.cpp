// The ring under real concurrency: one producer thread, one consumer thread
// and a metrics reader, a million UTXOs through a small ring (and many
// through a one-slot ring). FIFO order
// checked item by item proves each UTXO came out exactly once.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "engine/model/utxo_ring.h"
#include "tests/storage/utxo/utxo_test_util.h"

namespace raregen::utxo {
namespace {

using testing::tag_of;
using testing::tagged_utxo;

void run_stress(std::size_t capacity, std::uint64_t items) {
    UtxoRing ring(capacity);
    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> depth_over_capacity{0};
    std::atomic<std::uint64_t> depth_reads{0};

    std::thread producer([&] {
        std::vector<chain::Utxo> batch(37);
        std::uint64_t next = 0;
        std::uint64_t round = 0;
        while (next < items) {
            std::size_t pushed = 0;
            if (++round % 3 == 0) {
                pushed = ring.try_push(tagged_utxo(next)) ? 1 : 0;
            } else {
                const std::size_t n = static_cast<std::size_t>(
                    std::min<std::uint64_t>(1 + round % batch.size(), items - next));
                for (std::size_t k = 0; k < n; ++k)
                    batch[k] = tagged_utxo(next + k);
                pushed = ring.try_push_bulk(std::span<const chain::Utxo>(batch.data(), n));
            }
            next += pushed;
            // Full: let the consumer run (three threads share two cores).
            if (pushed == 0) std::this_thread::yield();
        }
    });

    std::thread reader([&] {
        while (!done.load(std::memory_order_acquire)) {
            if (ring.depth() > ring.capacity()) depth_over_capacity.fetch_add(1);
            if (ring.popped() > ring.pushed()) depth_over_capacity.fetch_add(1);
            depth_reads.fetch_add(1, std::memory_order_relaxed);
            std::this_thread::yield();
        }
    });

    std::uint64_t expected = 0;
    std::uint64_t out_of_order = 0;
    std::uint64_t bad_value = 0;
    std::vector<chain::Utxo> batch(53);
    std::uint64_t round = 0;
    const auto check = [&](const chain::Utxo& u) {
        if (tag_of(u) != expected) ++out_of_order;
        if (u.value != static_cast<std::int64_t>(expected) ||
            u.outpoint.vout != static_cast<std::uint32_t>(expected))
            ++bad_value;  // a torn slot: some fields from another UTXO
        ++expected;
    };
    while (expected < items) {
        std::size_t n = 0;
        if (++round % 2 == 0) {
            chain::Utxo u;
            if (ring.try_pop(u)) {
                check(u);
                n = 1;
            }
        } else {
            const std::size_t want = 1 + static_cast<std::size_t>(round % batch.size());
            n = ring.try_pop_bulk(std::span<chain::Utxo>(batch.data(), want));
            for (std::size_t k = 0; k < n; ++k)
                check(batch[k]);
        }
        if (n == 0) std::this_thread::yield();  // empty: let the producer run
    }
    producer.join();
    done.store(true, std::memory_order_release);
    reader.join();

    EXPECT_EQ(out_of_order, 0u);
    EXPECT_EQ(bad_value, 0u);
    EXPECT_EQ(depth_over_capacity.load(), 0u);
    EXPECT_GT(depth_reads.load(), 0u);
    EXPECT_EQ(ring.pushed(), items);
    EXPECT_EQ(ring.popped(), items);
    EXPECT_EQ(ring.depth(), 0u);
    chain::Utxo extra;
    EXPECT_FALSE(ring.try_pop(extra));  // nothing handed out twice
}

TEST(UtxoRingStress, MillionItemsThroughSmallRing) {
    run_stress(1000, 1'000'000);
}

// Capacity 1: every push and pop contends on the single slot, so each item
// is a hand-off between threads; fewer items keep it fast on 2 cores.
TEST(UtxoRingStress, ItemsThroughOneSlot) {
    run_stress(1, 100'000);
}

}  // namespace
}  // namespace raregen::utxo
