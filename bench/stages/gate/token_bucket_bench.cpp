// Cost of the gate's bucket per call. Time is simulated, so these measure the
// bucket's bookkeeping only, not any waiting.
#include "stages/gate/token_bucket.h"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>

namespace {

using namespace std::chrono_literals;
using raregen::gate::TokenBucket;
using std::chrono::nanoseconds;

// Steady state at the seed's setting: one call per 6 ms of simulated time, so
// each call retires one run and grants one token.
void BM_TryTakeGrantOne(benchmark::State& state) {
    TokenBucket bucket;
    nanoseconds t = 0ns;
    for (int i = 0; i < 500; ++i)
        bucket.try_take(t += 6ms, 1);
    std::uint64_t granted = 0;
    for (auto _ : state) {
        t += 6ms;
        granted += bucket.try_take(t, 1);
    }
    benchmark::DoNotOptimize(granted);
    state.SetItemsProcessed(state.iterations());
    state.counters["granted_per_call"] =
        static_cast<double>(granted) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_TryTakeGrantOne);

// The gate asking an empty bucket again at the same instant.
void BM_TryTakeDenied(benchmark::State& state) {
    TokenBucket bucket;
    for (int i = 0; i < 500; ++i)
        bucket.try_take(nanoseconds(i), 1);  // 500 runs outstanding
    std::uint64_t granted = 0;
    for (auto _ : state)
        granted += bucket.try_take(1s, 1);
    benchmark::DoNotOptimize(granted);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TryTakeDenied);

// A backlogged gate thread taking `range(0)` tokens per call and parking at
// next_token_at() when refused; items are tokens granted.
void BM_BacklogLoop(benchmark::State& state) {
    const auto per_call = static_cast<std::uint32_t>(state.range(0));
    TokenBucket bucket;
    nanoseconds t = 0ns;
    std::uint64_t granted = 0;
    for (auto _ : state) {
        const std::uint32_t got = bucket.try_take(t, per_call);
        if (got == 0) t = bucket.next_token_at(t, per_call);
        granted += got;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(granted));
}
BENCHMARK(BM_BacklogLoop)->Arg(1)->Arg(64)->Arg(500);

// Worst case for next_token_at: asking for the whole capacity with 500
// single-token runs outstanding walks all of them.
void BM_NextTokenAtWholeCapacity(benchmark::State& state) {
    TokenBucket bucket;
    for (int i = 0; i < 500; ++i)
        bucket.try_take(nanoseconds(i), 1);
    for (auto _ : state)
        benchmark::DoNotOptimize(bucket.next_token_at(1s, 500));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NextTokenAtWholeCapacity);

}  // namespace
