// The sign stage allocates nothing per job once warm. Counted at the C level
// (tests/support/alloc_counter.h: malloc and friends on every thread, so
// operator new, OpenSSL and libsecp256k1 alike), across the stepping thread
// and the stage's helper threads, over 10,000 jobs after a warm-up.
// Sanitizer builds keep their own allocator and cannot count: there the
// test still pushes the jobs through (useful under TSan) but skips the check.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/stages/sign/sign_test_util.h"
#include "tests/support/alloc_counter.h"

namespace raregen::sign {
namespace {

// Pushes `jobs` (prepared beforehand) through the stage: feeds the input as
// it drains, steps, empties the output. Nothing here allocates: the
// channels and the ring are preallocated and jobs are copied.
void pump(testing::Harness& h, const std::vector<model::Job>& jobs) {
    std::size_t fed = 0;
    std::size_t out = 0;
    model::Job job;
    while (out < jobs.size()) {
        while (fed < jobs.size() && h.input().size() < h.input().capacity()) {
            ASSERT_TRUE(h.feeder().try_enqueue(jobs[fed]));
            ++fed;
        }
        h.stage().step(flow::Nanos{0}, 64);
        while (h.output().try_dequeue(job)) {
            ASSERT_EQ(job.intake_seq, jobs[out].intake_seq);
            ++out;
        }
    }
}

std::vector<model::Job> make_jobs(std::uint64_t first, std::uint64_t n) {
    std::vector<model::Job> jobs;
    jobs.reserve(n);
    for (std::uint64_t i = first; i < first + n; ++i)
        jobs.push_back(testing::make_job(i));
    return jobs;
}

TEST(SignStageAllocation, NothingPerJobAfterWarmUp) {
    constexpr std::uint64_t k_warm = 500;
    constexpr std::uint64_t k_jobs = 10'000;
    SignStageOptions o;
    o.threads = 2;
    o.max_chunk = 64;
    o.publication.change = true;  // the larger shape: two outputs, EF too
    testing::Harness h(k_warm + k_jobs, o, 512, 512);
    h.add_utxos(0, k_warm + k_jobs);
    h.facts().reserve(k_warm + k_jobs);  // the recording sink must not allocate either
    const std::vector<model::Job> warm = make_jobs(0, k_warm);
    const std::vector<model::Job> jobs = make_jobs(k_warm, k_jobs);

    pump(h, warm);
    test::start_counting_allocations();
    pump(h, jobs);
    const std::uint64_t allocations = test::stop_counting_allocations();

    EXPECT_EQ(h.stage().signed_count(), k_warm + k_jobs);
    EXPECT_EQ(h.stage().counters().items_out(), k_warm + k_jobs);
    if (!test::alloc_counting_available())
        GTEST_SKIP() << "allocation counting is off in sanitizer builds";
    EXPECT_EQ(allocations, 0u) << "malloc-family calls while signing " << k_jobs << " jobs";
}

}  // namespace
}  // namespace raregen::sign
