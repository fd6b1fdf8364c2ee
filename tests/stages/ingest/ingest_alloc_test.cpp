// The ingest stage allocates nothing per intent once warmed up: this file
// replaces the global operator new to count allocations while a window is open.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>

#include "stages/ingest/ingest_stage.h"
#include "tests/stages/ingest/intent_test_util.h"
#include "tools/gen/intent_gen.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocations{0};

void* counted_alloc(std::size_t n) {
    if (g_counting.load(std::memory_order_relaxed)) {
        g_allocations.fetch_add(1, std::memory_order_relaxed);
        if (std::getenv("RAREGEN_ABORT_ON_ALLOC") != nullptr) std::abort();
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
}  // namespace

// Every plain and nothrow form goes through malloc/free, so what one form
// allocates any other frees without a mismatch (libsimdjson allocates with
// new(std::nothrow)[] and frees with delete[]; ASan checks the pairing).
// GCC at -O1 (the sanitizer builds) inlines them into gtest's `new TestClass`
// and takes the free for a mismatch: the pairing here is malloc with free.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
    return counted_alloc(n);
}
void* operator new[](std::size_t n) {
    return counted_alloc(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return counted_alloc(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
    return operator new(n, t);
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
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
#pragma GCC diagnostic pop

namespace raregen::ingest {
namespace {

using namespace std::chrono_literals;

TEST(IngestNoAllocation, SteadyStateAllocatesNothingPerIntent) {
    constexpr std::size_t k_warm_up = 100;
    constexpr std::size_t k_total = 1100;
    IntentGenOptions go;
    go.count = k_total;
    go.signers = 3;
    go.invalid_share = 0.2;  // rejects must not allocate either
    go.seed = 11;
    go.timestamp = test::test_now();
    IntentGenerator gen(go);
    std::string text, line;
    while (!gen.done()) {
        gen.next(line);
        text += line + "\n";
    }
    auto reg = InMemorySignerRegistry::parse(gen.registry_text(), "generated");
    ASSERT_TRUE(reg);
    test::TempFile file(text);
    const int fd = ::open(file.path().c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);

    InMemoryNonceStore nonces(8192, 15min);
    model::CountingFactSink facts;
    flow::RunContext context;
    flow::Channel<model::Job> out(64);
    auto consumer = out.make_consumer();
    std::FILE* log = std::tmpfile();
    ASSERT_NE(log, nullptr);
    JsonLinesRejectWriter writer(log);
    IngestOptions o;
    o.reject_sink = &writer;
    IngestStage stage(fd, out, facts, context, nonces, *reg.registry, o);
    const flow::Nanos now{std::chrono::seconds{test::k_now_unix}};
    model::Job job;
    std::uint64_t drained = 0;
    while (stage.lines_read() < k_warm_up) {
        ASSERT_NE(stage.step(now, 8), flow::Step::finished);
        while (consumer.try_dequeue(job))
            ++drained;
    }
    g_allocations.store(0);
    g_counting.store(true);
    flow::Step s = flow::Step::progressed;
    while (s != flow::Step::finished) {
        s = stage.step(now, 8);
        while (consumer.try_dequeue(job))
            ++drained;
    }
    g_counting.store(false);
    const std::uint64_t allocations = g_allocations.load();
    std::fclose(log);
    ::close(fd);
    EXPECT_EQ(stage.lines_read(), k_total);
    EXPECT_EQ(drained, stage.accepted());
    EXPECT_EQ(stage.counters().rejected(), 220u);
    EXPECT_EQ(allocations, 0u) << "allocations over " << (k_total - k_warm_up) << " intents";
}

}  // namespace
}  // namespace raregen::ingest
