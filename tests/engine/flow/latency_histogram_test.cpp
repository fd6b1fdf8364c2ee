// LatencyHistogram: quantiles within a bucket's width (~6%) of the truth,
// at every scale from microseconds to hours, and safe to record from many
// threads at once.

#include "engine/flow/latency_histogram.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace raregen::flow {
namespace {

using std::chrono::microseconds;

TEST(LatencyHistogram, EmptyAnswersZero) {
    LatencyHistogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.quantile(0.5).count(), 0);
}

TEST(LatencyHistogram, QuantilesAreTheUpperEdgeOfTheirBucketWithinSixPercent) {
    for (const std::int64_t scale : {1LL, 100LL, 10'000LL, 1'000'000LL, 100'000'000LL}) {
        LatencyHistogram h;
        // 1..1000 times the scale, once each: the true p50 is 500, p99 990.
        for (std::int64_t i = 1; i <= 1000; ++i)
            h.record(std::chrono::microseconds(i * scale));
        ASSERT_EQ(h.count(), 1000u);
        for (const auto& [q, truth] : {std::pair{0.5, 500.0}, std::pair{0.99, 990.0}}) {
            const double got = static_cast<double>(h.quantile(q).count());
            const double want = truth * static_cast<double>(scale);
            EXPECT_GE(got, want) << "scale " << scale << " q " << q;  // an upper edge
            EXPECT_LE(got, want * 1.07 + 1) << "scale " << scale << " q " << q;
        }
    }
}

TEST(LatencyHistogram, NegativeDurationsCountAsZeroAndHugeOnesInTheLastBucket) {
    LatencyHistogram h;
    h.record(std::chrono::nanoseconds(-5));
    EXPECT_EQ(h.quantile(1.0).count(), 1);
    h.record(std::chrono::hours(24 * 365));
    EXPECT_EQ(h.count(), 2u);
    EXPECT_GT(h.quantile(1.0), std::chrono::hours(1));
}

TEST(LatencyHistogram, ManyWritersLoseNoRecord) {
    LatencyHistogram h;
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t)
        writers.emplace_back([&h, t] {
            for (int i = 0; i < 10'000; ++i)
                h.record(microseconds(100 * (t + 1)));
        });
    for (auto& w : writers)
        w.join();
    EXPECT_EQ(h.count(), 40'000u);
    EXPECT_GE(h.quantile(1.0), microseconds(400));
    EXPECT_LE(h.quantile(0.25), microseconds(107));
}

}  // namespace
}  // namespace raregen::flow
