// Nothing allocates per item once a graph is built: this binary replaces the
// global operator new to count allocations while a window is open.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

#include "engine/flow/channel.h"
#include "engine/flow/clock.h"
#include "engine/flow/runner.h"
#include "tests/engine/flow/toy_stages.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocations{0};

void* counted_alloc(std::size_t n) {
    if (g_counting.load(std::memory_order_relaxed)) {
        g_allocations.fetch_add(1, std::memory_order_relaxed);
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}

class CountAllocations {
  public:
    CountAllocations() {
        g_allocations.store(0);
        g_counting.store(true);
    }
    ~CountAllocations() { g_counting.store(false); }
    std::uint64_t so_far() const { return g_allocations.load(); }
};
}  // namespace

// GCC (at -O1, the sanitizer builds) inlines these replacements into
// gtest's `new TestClass` and then takes the std::free for a mismatch with
// operator new: it is this file's own pairing, malloc with free.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
    return counted_alloc(n);
}
void* operator new[](std::size_t n) {
    return counted_alloc(n);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
#pragma GCC diagnostic pop

namespace raregen::flow {
namespace {

using testing::CheckingSink;
using testing::eventually;
using testing::Transform;
using testing::U64Channel;

TEST(NoAllocation, ChannelAfterSetUp) {
    U64Channel ch(100, 2);
    auto a = ch.make_producer();
    auto b = ch.make_producer();
    auto c = ch.make_consumer();
    std::vector<std::uint64_t> buf(64);
    std::uint64_t v = 0;

    CountAllocations count;
    for (std::uint64_t round = 0; round < 5000; ++round) {
        while (a.try_enqueue(round)) {
        }
        for (int i = 0; i < 37; ++i)
            ASSERT_TRUE(c.try_dequeue(v));
        EXPECT_GT(b.try_enqueue_bulk(buf.begin(), buf.size()), 0u);
        EXPECT_GT(c.try_dequeue_bulk(buf.begin(), buf.size()), 0u);
        (void)ch.try_dequeue(v);
    }
    EXPECT_EQ(count.so_far(), 0u);
}

// A running graph, through feeding, waking, parking and draining.
TEST(NoAllocation, RunnerAfterStart) {
    ManualClock clock;
    U64Channel in(16), out(16);
    auto feeder = in.make_producer();
    Runner runner(clock, RunnerOptions{.threads = 2});
    runner.emplace<Transform>(0, in, out);
    auto& sink = runner.emplace<CheckingSink>(1, out);
    runner.start();
    ASSERT_TRUE(eventually([&] { return runner.park_count() >= 1; }));

    constexpr std::uint64_t k_items = 20'000;
    {
        CountAllocations count;
        for (std::uint64_t i = 0; i < k_items;) {
            if (feeder.try_enqueue(i)) {
                ++i;
                runner.wake();
            } else {
                std::this_thread::yield();
            }
        }
        const std::uint64_t parks = runner.park_count();
        ASSERT_TRUE(eventually([&] { return sink.counters().items_in() == k_items; }));
        ASSERT_TRUE(eventually([&] { return runner.park_count() > parks; }));
        feeder.close();
        runner.wake();
        ASSERT_TRUE(eventually([&] { return sink.finished(); }));
        EXPECT_EQ(count.so_far(), 0u);
    }
    runner.wait();
    EXPECT_EQ(sink.received(), k_items);
    EXPECT_EQ(sink.first_out_of_order(), CheckingSink::k_none);
}

}  // namespace
}  // namespace raregen::flow
