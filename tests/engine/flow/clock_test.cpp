#include "engine/flow/clock.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "engine/flow/step.h"

namespace raregen::flow {
namespace {

TEST(ManualClock, MovesOnlyWhenTold) {
    ManualClock clock(Nanos{1000});
    EXPECT_EQ(clock.now(), Nanos{1000});
    EXPECT_EQ(clock.now(), Nanos{1000});
    clock.advance(std::chrono::microseconds(3));
    EXPECT_EQ(clock.now(), Nanos{4000});
    clock.advance(Nanos{-50});  // ignored: the clock stays monotonic
    EXPECT_EQ(clock.now(), Nanos{4000});
    clock.set(Nanos{42});
    EXPECT_EQ(clock.now(), Nanos{42});
}

TEST(ManualClock, ConcurrentAdvancesAllCount) {
    ManualClock clock;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10'000; ++i)
                clock.advance(Nanos{1});
        });
    }
    Nanos last{0};
    for (int i = 0; i < 1000; ++i) {  // a reader sees time only move forward
        const Nanos now = clock.now();
        EXPECT_GE(now, last);
        last = now;
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(clock.now(), Nanos{40'000});
}

TEST(SteadyClock, NeverGoesBackwards) {
    SteadyClock clock;
    const Clock& c = clock;
    Nanos last = c.now();
    for (int i = 0; i < 1000; ++i) {
        const Nanos now = c.now();
        EXPECT_GE(now, last);
        last = now;
    }
}

TEST(Step, Names) {
    EXPECT_EQ(to_string(Step::progressed), "progressed");
    EXPECT_EQ(to_string(Step::idle), "idle");
    EXPECT_EQ(to_string(Step::blocked), "blocked");
    EXPECT_EQ(to_string(Step::finished), "finished");
}

}  // namespace
}  // namespace raregen::flow
