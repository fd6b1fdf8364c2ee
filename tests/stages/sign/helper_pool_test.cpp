#include "stages/sign/helper_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

namespace raregen::sign {
namespace {

std::atomic<int> g_inits{0};

TEST(HelperPool, RefusesZeroThreads) {
    EXPECT_THROW(HelperPool(0), std::invalid_argument);
}

TEST(HelperPool, InitRunsOnEveryHelperBeforeTheConstructorReturns) {
    g_inits.store(0);
    HelperPool pool(4, [] { g_inits.fetch_add(1); });
    EXPECT_EQ(pool.threads(), 4u);
    EXPECT_EQ(g_inits.load(), 3);  // the caller's slot has no helper
}

TEST(HelperPool, OneThreadRunsEverythingInOrderOnTheCaller) {
    HelperPool pool(1);
    std::vector<std::size_t> order;
    order.reserve(10);
    auto task = [&](std::size_t i, std::size_t slot) noexcept {
        EXPECT_EQ(slot, 0u);
        order.push_back(i);
    };
    pool.run(10, task);
    ASSERT_EQ(order.size(), 10u);
    for (std::size_t i = 0; i < 10; ++i)
        EXPECT_EQ(order[i], i);
}

// Many runs of varying size: every index runs exactly once per run, slots
// stay in range, each slot belongs to one thread, and what the caller wrote
// before a run and the tasks wrote during it are visible on both sides
// (ThreadSanitizer checks the latter).
void check_runs(std::size_t threads) {
    HelperPool pool(threads);
    constexpr std::size_t k_max_n = 70;
    std::vector<std::uint64_t> input(k_max_n);
    std::vector<std::uint64_t> output(k_max_n);
    std::vector<std::uint32_t> hits(k_max_n);
    std::vector<std::thread::id> owner(threads);
    std::uint64_t bad_slot = 0;
    std::atomic<std::uint64_t> bad_owner{0};
    for (std::uint64_t run = 0; run < 3000; ++run) {
        const std::size_t n = 1 + static_cast<std::size_t>((run * 7) % k_max_n);
        for (std::size_t i = 0; i < n; ++i) {
            input[i] = run * 1000 + i;
            hits[i] = 0;
        }
        auto task = [&](std::size_t i, std::size_t slot) noexcept {
            if (slot >= threads) {
                ++bad_slot;  // racy only if the pool is broken; then the test fails anyway
                return;
            }
            if (owner[slot] == std::thread::id{}) owner[slot] = std::this_thread::get_id();
            if (owner[slot] != std::this_thread::get_id()) bad_owner.fetch_add(1);
            output[i] = input[i] * 3;
            ++hits[i];
        };
        pool.run(n, task);
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(hits[i], 1u) << "run " << run << " index " << i;
            ASSERT_EQ(output[i], (run * 1000 + i) * 3);
        }
    }
    EXPECT_EQ(bad_slot, 0u);
    EXPECT_EQ(bad_owner.load(), 0u);
}

TEST(HelperPool, EachIndexOnceTwoThreads) {
    check_runs(2);
}
TEST(HelperPool, EachIndexOnceFourThreads) {
    check_runs(4);
}

// Many tiny runs back to back: the most hand-overs from one run to the
// next, where a helper still looking at the last run's claim word meets the
// caller setting up the next. Each run's task is a fresh stack object, so a
// helper running a stale task shows as a race or a use after scope under
// ThreadSanitizer, and as a wrong sum here.
TEST(HelperPool, RapidSmallRunsNeverRunAStaleTask) {
    HelperPool pool(3);
    std::uint64_t wrong = 0;
    for (std::uint64_t run = 0; run < 200'000; ++run) {
        const std::size_t n = 2 + static_cast<std::size_t>(run % 3);
        std::atomic<std::uint64_t> sum{0};
        const std::uint64_t tag = run;
        auto task = [&sum, tag](std::size_t i, std::size_t) noexcept {
            sum.fetch_add(tag * 16 + i + 1);
        };
        pool.run(n, task);
        std::uint64_t expected = 0;
        for (std::size_t i = 0; i < n; ++i)
            expected += tag * 16 + i + 1;
        if (sum.load() != expected) ++wrong;
    }
    EXPECT_EQ(wrong, 0u);
}

// Helpers do take work: with tasks long enough, some run gets help. (A
// liveness check, not a timing one: it only fails if no helper ever claims
// an index in thousands of runs.)
TEST(HelperPool, HelpersTakePart) {
    HelperPool pool(2);
    std::vector<std::size_t> slot_of(16);
    auto task = [&](std::size_t i, std::size_t slot) noexcept {
        volatile std::uint64_t x = 0;
        for (int k = 0; k < 20'000; ++k)
            x = x + static_cast<std::uint64_t>(k);
        slot_of[i] = slot;
    };
    for (int run = 0; run < 5000 && pool.helped_runs() == 0; ++run)
        pool.run(slot_of.size(), task);
    EXPECT_GT(pool.helped_runs(), 0u);
}

// Helpers asleep on the futex are woken for a new run and for destruction.
TEST(HelperPool, WakesSleepingHelpersAndJoinsThem) {
    std::atomic<std::uint64_t> sum{0};
    {
        HelperPool pool(3);
        for (int round = 0; round < 3; ++round) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let helpers fall asleep
            auto task = [&](std::size_t i, std::size_t) noexcept { sum.fetch_add(i); };
            pool.run(100, task);
        }
    }  // joins: would hang here if a sleeping helper missed the stop
    EXPECT_EQ(sum.load(), 3u * 4950u);
}

}  // namespace
}  // namespace raregen::sign
