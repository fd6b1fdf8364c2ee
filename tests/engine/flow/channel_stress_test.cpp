// Several producers and consumers over a tiny channel: every item must arrive
// exactly once, each consumer must see each producer's items in order, and
// the bound must never be exceeded.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "engine/flow/channel.h"

namespace raregen::flow {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t k_total_items = 60'000;  // sanitizers run ~10x slower
#else
constexpr std::uint64_t k_total_items = 200'000;
#endif

struct StressCase {
    std::size_t capacity;
    std::size_t producers;
    std::size_t consumers;
};

class ChannelStress : public ::testing::TestWithParam<StressCase> {};

TEST_P(ChannelStress, EveryItemExactlyOnceAndInProducerOrder) {
    const StressCase sc = GetParam();
    const std::uint64_t per_producer = k_total_items / sc.producers;
    Channel<std::uint64_t> ch(sc.capacity, sc.producers);

    std::vector<Channel<std::uint64_t>::Producer> producers;
    for (std::size_t i = 0; i < sc.producers; ++i)
        producers.push_back(ch.make_producer());
    std::vector<Channel<std::uint64_t>::Consumer> consumers;
    for (std::size_t i = 0; i < sc.consumers; ++i)
        consumers.push_back(ch.make_consumer());

    // seen[p][seq] counts arrivals; written by whichever consumer got the item.
    std::vector<std::vector<std::atomic<std::uint8_t>>> seen(sc.producers);
    for (auto& s : seen)
        s = std::vector<std::atomic<std::uint8_t>>(per_producer);
    std::atomic<std::uint64_t> received{0};
    std::atomic<std::uint64_t> checksum{0};
    std::atomic<std::uint64_t> order_violations{0};
    std::atomic<std::uint64_t> max_size_seen{0};

    std::vector<std::thread> threads;
    for (std::size_t id = 0; id < sc.producers; ++id) {
        threads.emplace_back([&, id] {
            auto& p = producers[id];
            for (std::uint64_t seq = 0; seq < per_producer;) {
                if (p.try_enqueue((std::uint64_t{id} << 32) | seq)) {
                    ++seq;
                } else {
                    std::this_thread::yield();
                }
            }
            p.close();
        });
    }
    for (std::size_t cid = 0; cid < sc.consumers; ++cid) {
        threads.emplace_back([&, cid] {
            auto& c = consumers[cid];
            std::vector<std::int64_t> last(sc.producers, -1);
            std::uint64_t local_sum = 0;
            std::uint64_t local_n = 0;
            std::uint64_t v = 0;
            for (;;) {
                const std::size_t depth = ch.size();
                if (depth > max_size_seen.load(std::memory_order_relaxed)) {
                    max_size_seen.store(depth, std::memory_order_relaxed);
                }
                if (c.try_dequeue(v)) {
                    const std::size_t p = static_cast<std::size_t>(v >> 32);
                    const auto seq = static_cast<std::int64_t>(v & 0xffffffffu);
                    if (p >= sc.producers || seq >= static_cast<std::int64_t>(per_producer)) {
                        order_violations.fetch_add(1);
                        continue;
                    }
                    if (seq <= last[p]) order_violations.fetch_add(1);
                    last[p] = seq;
                    seen[p][static_cast<std::size_t>(seq)].fetch_add(1, std::memory_order_relaxed);
                    local_sum += v;
                    ++local_n;
                } else if (c.closed_and_empty()) {
                    break;
                } else {
                    std::this_thread::yield();
                }
            }
            received.fetch_add(local_n);
            checksum.fetch_add(local_sum);
        });
    }
    for (auto& t : threads)
        t.join();

    std::uint64_t want_sum = 0;
    for (std::uint64_t id = 0; id < sc.producers; ++id) {
        for (std::uint64_t seq = 0; seq < per_producer; ++seq)
            want_sum += (id << 32) | seq;
    }
    EXPECT_EQ(received.load(), per_producer * sc.producers);
    EXPECT_EQ(checksum.load(), want_sum);
    EXPECT_EQ(order_violations.load(), 0u);
    std::uint64_t not_once = 0;
    for (auto& s : seen) {
        for (auto& x : s)
            not_once += x.load() == 1 ? 0 : 1;
    }
    EXPECT_EQ(not_once, 0u);
    EXPECT_LE(max_size_seen.load(), sc.capacity);
    EXPECT_TRUE(ch.closed_and_empty());
}

INSTANTIATE_TEST_SUITE_P(Tiny, ChannelStress,
                         ::testing::Values(StressCase{1, 1, 1}, StressCase{1, 3, 3},
                                           StressCase{2, 3, 2}, StressCase{2, 4, 4},
                                           StressCase{64, 2, 3}),
                         [](const ::testing::TestParamInfo<StressCase>& pinfo) {
                             return "cap" + std::to_string(pinfo.param.capacity) + "_p" +
                                    std::to_string(pinfo.param.producers) + "_c" +
                                    std::to_string(pinfo.param.consumers);
                         });

}  // namespace
}  // namespace raregen::flow
