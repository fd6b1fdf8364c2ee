#include "engine/flow/signals.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "engine/flow/clock.h"
#include "engine/flow/runner.h"
#include "tests/engine/flow/toy_stages.h"

namespace raregen::flow {
namespace {

using testing::CheckingSink;
using testing::CountingSource;
using testing::eventually;
using testing::Transform;
using testing::U64Channel;

TEST(SignalDrain, SigtermDrainsTheRunner) {
    ManualClock clock;
    U64Channel a(1), b(1);
    Runner runner(clock, RunnerOptions{.threads = 2});
    auto& src = runner.emplace<CountingSource>(0, runner.context(), a, CountingSource::k_unlimited);
    auto& mid = runner.emplace<Transform>(1, a, b);
    auto& sink = runner.emplace<CheckingSink>(0, b);
    SignalDrain drain(runner);
    runner.start();
    ASSERT_TRUE(eventually([&] { return sink.counters().items_in() >= 1000; }));

    ASSERT_EQ(raise(SIGTERM), 0);  // without the handler this would kill the test
    const bool drained =
        eventually([&] { return src.finished() && mid.finished() && sink.finished(); });
    if (!drained) runner.request_stop();  // unstick; the assertion below reports it
    runner.wait();

    EXPECT_TRUE(drained);
    EXPECT_EQ(drain.signal_received(), SIGTERM);
    EXPECT_TRUE(runner.context().stop_requested());
    const std::uint64_t emitted = src.counters().items_out();
    EXPECT_EQ(sink.received(), emitted);
    EXPECT_EQ(sink.first_out_of_order(), CheckingSink::k_none);
    EXPECT_EQ(sink.sum(), testing::transformed_sum(emitted));
}

TEST(SignalDrain, SigintRequestsStopAndARepeatDoesNotKillByDefault) {
    RunContext ctx;
    SignalDrain drain(ctx);
    ASSERT_EQ(raise(SIGINT), 0);
    ASSERT_EQ(raise(SIGINT), 0);
    EXPECT_TRUE(eventually([&] { return ctx.stop_requested(); }));
    EXPECT_TRUE(eventually([&] { return drain.signal_received() == SIGINT; }));
}

extern "C" void raregen_flow_test_handler(int) {}

TEST(SignalDrain, RestoresThePreviousHandlers) {
    struct sigaction mine {};
    mine.sa_handler = &raregen_flow_test_handler;
    sigemptyset(&mine.sa_mask);
    struct sigaction saved_int {
    }, saved_term{};
    ASSERT_EQ(sigaction(SIGINT, &mine, &saved_int), 0);
    ASSERT_EQ(sigaction(SIGTERM, &mine, &saved_term), 0);

    struct sigaction now {};
    {
        RunContext ctx;
        SignalDrain drain(ctx);
        ASSERT_EQ(sigaction(SIGTERM, nullptr, &now), 0);
        EXPECT_NE(now.sa_handler, &raregen_flow_test_handler);
        EXPECT_THROW(SignalDrain{ctx}, std::logic_error);  // one at a time
    }
    ASSERT_EQ(sigaction(SIGTERM, nullptr, &now), 0);
    EXPECT_EQ(now.sa_handler, &raregen_flow_test_handler);
    ASSERT_EQ(sigaction(SIGINT, nullptr, &now), 0);
    EXPECT_EQ(now.sa_handler, &raregen_flow_test_handler);

    // And a new one can be installed once the old one is gone.
    {
        RunContext ctx;
        SignalDrain again(ctx);
    }
    ASSERT_EQ(sigaction(SIGINT, &saved_int, nullptr), 0);
    ASSERT_EQ(sigaction(SIGTERM, &saved_term, nullptr), 0);
}

TEST(SignalDrainDeathTest, ForcedRepeatKillsAtOnce) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            RunContext ctx;
            SignalDrain drain(ctx, SignalDrainOptions{.force_on_repeat = true});
            raise(SIGINT);  // drain
            raise(SIGINT);  // give up: default action
            std::_Exit(0);
        },
        ::testing::KilledBySignal(SIGINT), "");
}

}  // namespace
}  // namespace raregen::flow
