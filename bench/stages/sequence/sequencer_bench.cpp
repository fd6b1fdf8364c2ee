// Cost of the sequencer per job. Time is simulated.
#include "stages/sequence/sequencer.h"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>

namespace {

using namespace std::chrono_literals;
using raregen::sequence::Assignment;
using raregen::sequence::Sequencer;
using std::chrono::nanoseconds;

// Jobs 1 µs apart at the seed's settings: batches close by size every 500 jobs.
void BM_AssignSizeCloses(benchmark::State& state) {
    Sequencer s({.prefix = "bench"});
    nanoseconds t = 0ns;
    std::uint64_t closes = 0;
    for (auto _ : state) {
        const Assignment a = s.assign(t += 1us);
        closes += a.closes_batch() ? 1 : 0;
        benchmark::DoNotOptimize(a.seq);
    }
    state.SetItemsProcessed(state.iterations());
    benchmark::DoNotOptimize(closes);
}
BENCHMARK(BM_AssignSizeCloses);

// Jobs 1 s apart: every fifth job finds the window run out (Assignment::expired).
void BM_AssignWindowCloses(benchmark::State& state) {
    Sequencer s({.prefix = "bench"});
    nanoseconds t = 0ns;
    for (auto _ : state) {
        const Assignment a = s.assign(t += 1s);
        benchmark::DoNotOptimize(a.expired.has_value());
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AssignWindowCloses);

// What a stage would do per job: poll, assign, and stamp the job with its
// batch's printable name.
void BM_PollAssignName(benchmark::State& state) {
    Sequencer s({.prefix = "node1-20240501"});
    nanoseconds t = 0ns;
    for (auto _ : state) {
        t += 1us;
        benchmark::DoNotOptimize(s.poll(t));
        const Assignment a = s.assign(t);
        const auto name = s.name_of(a.batch);
        benchmark::DoNotOptimize(name);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PollAssignName);

}  // namespace
