// One channel hop (try_enqueue + try_dequeue), in one thread and across two,
// next to raw moodycamel to show what the exact bound costs; plus a three
// stage pipeline through the runner.

#include <benchmark/benchmark.h>
#include <concurrentqueue.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "engine/flow/channel.h"
#include "engine/flow/clock.h"
#include "engine/flow/runner.h"
#include "tests/engine/flow/toy_stages.h"

namespace raregen::flow {
namespace {

// Spin on a failing try_* but give the core away now and then: on a shared
// 2-core box the other side may not be running at all.
class Backoff {
  public:
    void operator()() {
        if (++m_spins % 64 == 0) std::this_thread::yield();
    }

  private:
    unsigned m_spins = 0;
};

using U64Channel = Channel<std::uint64_t>;

void BM_ChannelHop_OneThread(benchmark::State& state) {
    U64Channel ch(static_cast<std::size_t>(state.range(0)));
    auto p = ch.make_producer();
    auto c = ch.make_consumer();
    std::uint64_t i = 0;
    std::uint64_t v = 0;
    for (auto _ : state) {
        if (!p.try_enqueue(i++)) state.SkipWithError("enqueue failed");
        if (!c.try_dequeue(v)) state.SkipWithError("dequeue failed");
        benchmark::DoNotOptimize(v);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChannelHop_OneThread)->Arg(1)->Arg(1024);

void BM_MoodycamelHop_OneThread(benchmark::State& state) {
    moodycamel::ConcurrentQueue<std::uint64_t> q(1024);
    moodycamel::ProducerToken pt(q);
    moodycamel::ConsumerToken ct(q);
    std::uint64_t i = 0;
    std::uint64_t v = 0;
    for (auto _ : state) {
        if (!q.try_enqueue(pt, i++)) state.SkipWithError("enqueue failed");
        if (!q.try_dequeue(ct, v)) state.SkipWithError("dequeue failed");
        benchmark::DoNotOptimize(v);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MoodycamelHop_OneThread);

// Bulk: 64 items per call each way.
void BM_ChannelHop_OneThreadBulk64(benchmark::State& state) {
    U64Channel ch(1024);
    auto p = ch.make_producer();
    auto c = ch.make_consumer();
    std::vector<std::uint64_t> in(64), out(64);
    for (auto _ : state) {
        if (p.try_enqueue_bulk(in.begin(), in.size()) != in.size()) state.SkipWithError("enqueue");
        if (c.try_dequeue_bulk(out.begin(), out.size()) != out.size())
            state.SkipWithError("dequeue");
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_ChannelHop_OneThreadBulk64);

// A producer thread keeps the channel fed; the benchmark thread consumes.
// Items per second is the hop rate across cores.
void BM_ChannelHop_TwoThreads(benchmark::State& state) {
    U64Channel ch(static_cast<std::size_t>(state.range(0)));
    auto p = ch.make_producer();
    auto c = ch.make_consumer();
    std::atomic<bool> stop{false};
    std::thread producer([&] {
        std::uint64_t i = 0;
        Backoff backoff;
        while (!stop.load(std::memory_order_relaxed)) {
            if (p.try_enqueue(i)) {
                ++i;
            } else {
                backoff();
            }
        }
    });
    std::uint64_t v = 0;
    Backoff backoff;
    for (auto _ : state) {
        while (!c.try_dequeue(v))
            backoff();
        benchmark::DoNotOptimize(v);
    }
    stop = true;
    producer.join();
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChannelHop_TwoThreads)->Arg(1)->Arg(64)->Arg(1024)->UseRealTime();

void BM_MoodycamelHop_TwoThreads(benchmark::State& state) {
    moodycamel::ConcurrentQueue<std::uint64_t> q(1024);
    moodycamel::ProducerToken pt(q);
    moodycamel::ConsumerToken ct(q);
    std::atomic<bool> stop{false};
    std::thread producer([&] {
        std::uint64_t i = 0;
        Backoff backoff;
        while (!stop.load(std::memory_order_relaxed)) {
            // Unbounded: hold the depth near 1024 by hand so it cannot grow.
            if (q.size_approx() < 1024 && q.try_enqueue(pt, i)) {
                ++i;
            } else {
                backoff();
            }
        }
    });
    std::uint64_t v = 0;
    Backoff backoff;
    for (auto _ : state) {
        while (!q.try_dequeue(ct, v))
            backoff();
        benchmark::DoNotOptimize(v);
    }
    stop = true;
    producer.join();
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MoodycamelHop_TwoThreads)->UseRealTime();

// source -> transform -> sink through the runner: two channel hops and three
// step() calls per item, including the runner's clock reads and counters.
void BM_RunnerPipeline(benchmark::State& state) {
    const auto threads = static_cast<std::size_t>(state.range(0));
    const auto capacity = static_cast<std::size_t>(state.range(1));
    constexpr std::uint64_t k_items = 200'000;
    for (auto _ : state) {
        SteadyClock clock;
        U64Channel a(capacity), b(capacity);
        Runner runner(clock, RunnerOptions{.threads = threads});
        runner.emplace<testing::CountingSource>(0, runner.context(), a, k_items);
        runner.emplace<testing::Transform>(threads - 1, a, b);
        auto& sink = runner.emplace<testing::CheckingSink>(0, b);
        runner.run();
        if (sink.received() != k_items) state.SkipWithError("lost items");
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(k_items));
}
BENCHMARK(BM_RunnerPipeline)
    ->Args({1, 1})
    ->Args({1, 256})
    ->Args({2, 1})
    ->Args({2, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace raregen::flow
