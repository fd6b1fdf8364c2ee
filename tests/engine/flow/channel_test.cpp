#include "engine/flow/channel.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "engine/flow/counters.h"

namespace raregen::flow {
namespace {

using U64Channel = Channel<std::uint64_t>;

class ChannelBound : public ::testing::TestWithParam<std::size_t> {};

TEST_P(ChannelBound, EnqueueFailsExactlyAtCapacityAndRecoversAfterDequeue) {
    const std::size_t cap = GetParam();
    U64Channel ch(cap);
    auto p = ch.make_producer();
    auto c = ch.make_consumer();

    for (std::uint64_t i = 0; i < cap; ++i)
        ASSERT_TRUE(p.try_enqueue(i)) << "item " << i;
    EXPECT_EQ(ch.size(), cap);
    EXPECT_FALSE(p.try_enqueue(std::uint64_t{999}));
    EXPECT_FALSE(p.try_enqueue(std::uint64_t{999}));
    EXPECT_EQ(ch.size(), cap);

    std::uint64_t v = 0;
    ASSERT_TRUE(c.try_dequeue(v));
    EXPECT_EQ(v, 0u);
    EXPECT_EQ(ch.size(), cap - 1);
    EXPECT_TRUE(p.try_enqueue(std::uint64_t{cap}));
    EXPECT_FALSE(p.try_enqueue(std::uint64_t{999}));

    // Everything comes out in order, then the channel is empty.
    for (std::uint64_t i = 1; i <= cap; ++i) {
        ASSERT_TRUE(c.try_dequeue(v));
        EXPECT_EQ(v, i);
    }
    EXPECT_FALSE(c.try_dequeue(v));
    EXPECT_EQ(ch.size(), 0u);
}

TEST_P(ChannelBound, BulkEnqueueTakesOnlyTheFreeRoom) {
    const std::size_t cap = GetParam();
    U64Channel ch(cap);
    auto p = ch.make_producer();
    auto c = ch.make_consumer();

    std::vector<std::uint64_t> items(2 * cap + 3);
    for (std::size_t i = 0; i < items.size(); ++i)
        items[i] = i;
    EXPECT_EQ(p.try_enqueue_bulk(items.begin(), items.size()), cap);
    EXPECT_EQ(p.try_enqueue_bulk(items.begin(), items.size()), 0u);
    EXPECT_EQ(ch.size(), cap);

    std::vector<std::uint64_t> out(cap + 5);
    ASSERT_EQ(c.try_dequeue_bulk(out.begin(), 1), 1u);
    EXPECT_EQ(out[0], 0u);
    EXPECT_EQ(p.try_enqueue_bulk(items.begin() + static_cast<std::ptrdiff_t>(cap), 3), 1u);
    ASSERT_EQ(c.try_dequeue_bulk(out.begin(), out.size()), cap);
    for (std::size_t i = 0; i < cap; ++i)
        EXPECT_EQ(out[i], i + 1);
    EXPECT_EQ(ch.size(), 0u);
}

// Fill to the brim and drain, over and over, in uneven steps: the
// preallocated blocks must be recycled so that no enqueue below capacity
// ever fails.
TEST_P(ChannelBound, NeverFailsBelowCapacityOverManyCycles) {
    const std::size_t cap = GetParam();
    U64Channel ch(cap);
    auto p = ch.make_producer();
    auto c = ch.make_consumer();
    std::uint64_t next_in = 0;
    std::uint64_t next_out = 0;
    const std::uint64_t total = 200'000;
    std::size_t round = 0;
    while (next_out < total) {
        while (ch.size() < cap)
            ASSERT_TRUE(p.try_enqueue(next_in++)) << "size " << ch.size();
        ASSERT_FALSE(p.try_enqueue(next_in));
        const std::size_t take = 1 + (round++ * 7) % cap;
        for (std::size_t i = 0; i < take; ++i) {
            std::uint64_t v = 0;
            ASSERT_TRUE(c.try_dequeue(v));
            ASSERT_EQ(v, next_out++);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Capacities, ChannelBound, ::testing::Values(1, 2, 31, 32, 33, 1000));

TEST(Channel, BoundIsSharedByAllProducers) {
    U64Channel ch(3, 2);
    auto a = ch.make_producer();
    auto b = ch.make_producer();
    EXPECT_TRUE(a.try_enqueue(std::uint64_t{1}));
    EXPECT_TRUE(b.try_enqueue(std::uint64_t{2}));
    EXPECT_TRUE(a.try_enqueue(std::uint64_t{3}));
    EXPECT_FALSE(a.try_enqueue(std::uint64_t{4}));
    EXPECT_FALSE(b.try_enqueue(std::uint64_t{4}));
    std::uint64_t v = 0;
    ASSERT_TRUE(ch.try_dequeue(v));  // tokenless dequeue
    EXPECT_TRUE(b.try_enqueue(std::uint64_t{5}));
    EXPECT_FALSE(a.try_enqueue(std::uint64_t{6}));
}

TEST(Channel, FifoPerProducer) {
    constexpr std::size_t k_producers = 3;
    constexpr std::uint64_t k_each = 500;
    U64Channel ch(k_producers * k_each, k_producers);
    std::vector<U64Channel::Producer> ps;
    for (std::size_t i = 0; i < k_producers; ++i)
        ps.push_back(ch.make_producer());
    auto c = ch.make_consumer();
    // Interleave the producers unevenly.
    for (std::uint64_t seq = 0; seq < k_each; ++seq) {
        for (std::size_t id = 0; id < k_producers; ++id) {
            ASSERT_TRUE(ps[id].try_enqueue((std::uint64_t{id} << 32) | seq));
        }
    }
    std::array<std::uint64_t, k_producers> next{};
    std::uint64_t v = 0;
    std::size_t n = 0;
    while (c.try_dequeue(v)) {
        const std::size_t id = static_cast<std::size_t>(v >> 32);
        ASSERT_LT(id, k_producers);
        ASSERT_EQ(v & 0xffffffffu, next[id]) << "producer " << id;
        ++next[id];
        ++n;
    }
    EXPECT_EQ(n, k_producers * k_each);
    for (std::uint64_t got : next)
        EXPECT_EQ(got, k_each);
}

TEST(Channel, CloseByTheOnlyProducer) {
    U64Channel ch(4);
    auto p = ch.make_producer();
    auto c = ch.make_consumer();
    EXPECT_FALSE(ch.closed());
    EXPECT_FALSE(ch.closed_and_empty());  // open and empty: more may come

    ASSERT_TRUE(p.try_enqueue(std::uint64_t{7}));
    p.close();
    EXPECT_FALSE(p.is_open());
    EXPECT_TRUE(ch.closed());
    EXPECT_FALSE(c.closed_and_empty());  // closed but an item is still inside

    std::uint64_t v = 0;
    ASSERT_TRUE(c.try_dequeue(v));
    EXPECT_EQ(v, 7u);
    EXPECT_TRUE(c.closed_and_empty());
    EXPECT_FALSE(c.try_dequeue(v));
    p.close();  // idempotent
    EXPECT_TRUE(ch.closed_and_empty());
}

TEST(Channel, ClosesWhenTheLastProducerCloses) {
    U64Channel ch(4, 3);
    auto a = ch.make_producer();
    auto b = ch.make_producer();
    a.close();
    a.close();  // a second close of the same handle does not count twice
    EXPECT_FALSE(ch.closed());
    b.close();
    EXPECT_TRUE(ch.closed());
    EXPECT_TRUE(ch.closed_and_empty());
}

TEST(Channel, ForcedCloseClosesRegardlessOfProducers) {
    U64Channel ch(4, 2);
    auto a = ch.make_producer();
    auto b = ch.make_producer();
    ch.close();
    EXPECT_TRUE(ch.closed_and_empty());
}

TEST(Channel, MovedFromProducerCannotCloseTheChannel) {
    U64Channel ch(4, 1);
    auto a = ch.make_producer();
    auto moved = std::move(a);
    EXPECT_FALSE(a.is_open());  // NOLINT(bugprone-use-after-move): the contract under test
    a.close();
    EXPECT_FALSE(ch.closed());
    moved.close();
    EXPECT_TRUE(ch.closed());
}

TEST(Channel, FailedEnqueueKeepsTheItem) {
    Channel<std::unique_ptr<int>> ch(1);
    auto p = ch.make_producer();
    auto c = ch.make_consumer();
    auto first = std::make_unique<int>(1);
    ASSERT_TRUE(p.try_enqueue(std::move(first)));
    auto second = std::make_unique<int>(2);
    EXPECT_FALSE(p.try_enqueue(std::move(second)));
    ASSERT_NE(second, nullptr);  // still ours
    EXPECT_EQ(*second, 2);

    std::unique_ptr<int> out;
    ASSERT_TRUE(c.try_dequeue(out));
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(*out, 1);
    EXPECT_TRUE(p.try_enqueue(std::move(second)));
}

TEST(Channel, SetUpMistakesThrow) {
    EXPECT_THROW(U64Channel(0), std::invalid_argument);
    EXPECT_THROW(U64Channel(1, 0), std::invalid_argument);
    EXPECT_THROW(U64Channel(std::size_t{1} << 50, 1), std::invalid_argument);

    U64Channel ch(2, 1);
    auto p = ch.make_producer();
    EXPECT_THROW(ch.make_producer(), std::logic_error);  // over max_producers

    U64Channel busy(2, 2);
    auto q = busy.make_producer();
    ASSERT_TRUE(q.try_enqueue(std::uint64_t{1}));
    EXPECT_THROW(busy.make_producer(), std::logic_error);  // items already flowing
}

TEST(Channel, DepthGaugeReadsSize) {
    U64Channel ch(8);
    auto p = ch.make_producer();
    const DepthGauge g = depth_gauge_of(ch);
    EXPECT_EQ(g(), 0u);
    ASSERT_TRUE(p.try_enqueue(std::uint64_t{1}));
    ASSERT_TRUE(p.try_enqueue(std::uint64_t{2}));
    EXPECT_EQ(g(), 2u);
    EXPECT_EQ(DepthGauge{}(), 0u);
}

}  // namespace
}  // namespace raregen::flow
