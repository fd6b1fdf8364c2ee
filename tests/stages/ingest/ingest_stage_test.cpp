#include "stages/ingest/ingest_stage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/flow/runner.h"
#include "tests/stages/ingest/intent_test_util.h"
#include "tools/gen/intent_gen.h"

namespace raregen::ingest {
namespace {

using namespace std::chrono_literals;
using test::base_record;
using test::make_intent;
using test::OJson;
using JobChannel = flow::Channel<model::Job>;

// The runner clock reads Unix time in these tests (wall_offset 0).
const flow::Nanos k_start = std::chrono::seconds{test::k_now_unix};

// Collects rejects for assertions.
class RecordingRejects final : public RejectSink {
  public:
    struct Entry {
        std::uint64_t line;
        RejectReason reason;
        std::string field;
        std::string message;
        std::string record_id;
        bool record_id_known;
    };
    void on_reject(const RejectEvent& e) noexcept override {
        entries.push_back({e.line, e.reason, std::string(e.field), std::string(e.message),
                           std::string(e.record_id), e.record_id_known});
    }
    std::vector<Entry> entries;
};

// A FactSink that says "full" a given number of times before each success.
class StubbornFacts final : public model::FactSink {
  public:
    model::FactTicket durable_through() const noexcept override { return ~model::FactTicket{0}; }
    model::FactTicket m_ticket = 0;
    explicit StubbornFacts(int refusals) : m_refusals(refusals) {}
    model::FactTicket try_emit(model::FactKind kind, const model::Job& job, flow::Nanos,
                               std::string_view) noexcept override {
        if (m_left > 0) {
            --m_left;
            return 0;
        }
        m_left = m_refusals;
        emitted.push_back({kind, job.intake_seq});
        return ++m_ticket;
    }
    std::vector<std::pair<model::FactKind, std::uint64_t>> emitted;

  private:
    int m_refusals;
    int m_left = 0;
};

class FileInput {
  public:
    explicit FileInput(const std::string& content) : m_file(content) {
        m_fd = ::open(m_file.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (m_fd < 0) throw std::runtime_error("open failed");
    }
    ~FileInput() { ::close(m_fd); }
    int fd() const { return m_fd; }

  private:
    test::TempFile m_file;
    int m_fd = -1;
};

class IngestStageTest : public ::testing::Test {
  protected:
    IngestStageTest() : a(test::make_signer(0x11)), b(test::make_signer(0x22)) {
        for (const auto* s : {&a, &b}) {
            CompressedPubkey k{};
            std::copy(s->pub.bytes.begin(), s->pub.bytes.begin() + 33, k.begin());
            registry.add(k, SignerStatus::active);
        }
    }

    std::string valid_line(int i, const test::TestSigner& s) {
        return make_intent(base_record(test::numbered("nonce-", i), "2024-05-01T11:59:30Z",
                                       test::numbered("rec-", i)),
                           s)
            .dump();
    }

    IngestOptions options(std::uint64_t seed = 42) {
        IngestOptions o;
        o.seed = seed;
        o.reject_sink = &rejects;
        return o;
    }

    // Steps `stage` on this thread, draining `out` after every call, until it
    // finishes. The clock advances 1 ms per call.
    std::vector<model::Job> drain(IngestStage& stage, JobChannel& out, std::size_t budget = 8) {
        auto consumer = out.make_consumer();
        std::vector<model::Job> got;
        flow::Nanos now = k_start;
        for (int guard = 0; guard < 1'000'000; ++guard) {
            const flow::Step s = stage.step(now, budget);
            model::Job j;
            while (consumer.try_dequeue(j))
                got.push_back(j);
            if (s == flow::Step::finished) break;
            now += 1ms;
        }
        return got;
    }

    test::TestSigner a, b;
    InMemorySignerRegistry registry;
    InMemoryNonceStore nonces{4096, 15min};
    model::CountingFactSink facts;
    flow::RunContext context;
    RecordingRejects rejects;
};

TEST_F(IngestStageTest, ValidJobsLeaveOnceInOrderAndRejectsAreCounted) {
    std::string input;
    std::vector<std::string> expected_ids;
    for (int i = 1; i <= 40; ++i) {
        input += valid_line(i, i % 2 ? a : b) + "\n";
        expected_ids.push_back(test::numbered("rec-", i));
        if (i % 10 == 0) input += "not json at all\n";
        if (i % 13 == 0) input += valid_line(i, i % 2 ? a : b) + "\n";  // an exact replay
    }
    FileInput file(input);
    JobChannel out(2);
    IngestStage stage(file.fd(), out, facts, context, nonces, registry, options());
    const auto got = drain(stage, out, 3);

    ASSERT_EQ(got.size(), 40u);
    std::set<std::string> job_ids;
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].intake_seq, i + 1);
        EXPECT_EQ(got[i].record_id.view(), expected_ids[i]);
        job_ids.insert(got[i].job_id.to_string());
        EXPECT_GE(got[i].accepted_at, k_start);
    }
    EXPECT_EQ(job_ids.size(), 40u);
    EXPECT_EQ(stage.rejected(RejectReason::bad_json), 4u);      // i = 10, 20, 30, 40
    EXPECT_EQ(stage.rejected(RejectReason::nonce_replay), 3u);  // i = 13, 26, 39
    EXPECT_EQ(stage.accepted(), 40u);
    EXPECT_EQ(stage.lines_read(), 47u);
    EXPECT_EQ(stage.counters().items_in(), 47u);
    EXPECT_EQ(stage.counters().items_out(), 40u);
    EXPECT_EQ(stage.counters().rejected(), 7u);
    EXPECT_EQ(facts.count(model::FactKind::job_accepted), 40u);
    EXPECT_TRUE(out.closed());
    EXPECT_EQ(stage.input_error(), 0);
}

TEST_F(IngestStageTest, JobIdsAreReproducibleFromTheSeed) {
    std::string input;
    for (int i = 1; i <= 5; ++i)
        input += valid_line(i, a) + "\n";
    std::vector<std::string> first, second, other;
    for (auto [seed, sink] : {std::pair{7ull, &first}, {7ull, &second}, {8ull, &other}}) {
        InMemoryNonceStore fresh(64, 15min);
        FileInput file(input);
        JobChannel out(8);
        IngestStage stage(file.fd(), out, facts, context, fresh, registry, options(seed));
        for (const auto& j : drain(stage, out))
            sink->push_back(j.job_id.to_string());
    }
    ASSERT_EQ(first.size(), 5u);
    EXPECT_EQ(first, second);
    EXPECT_NE(first, other);
    // UUID version 4 layout.
    EXPECT_EQ(first[0][14], '4');
    EXPECT_NE(std::string("89ab").find(first[0][19]), std::string::npos);
}

TEST_F(IngestStageTest, FullOutputKeepsTheJobAndReportsBlocked) {
    std::string input;
    for (int i = 1; i <= 4; ++i)
        input += valid_line(i, a) + "\n";
    FileInput file(input);
    JobChannel out(1);
    auto consumer = out.make_consumer();
    IngestStage stage(file.fd(), out, facts, context, nonces, registry, options());
    // Job 1 goes out; job 2 is taken but finds the channel full: progressed.
    EXPECT_EQ(stage.step(k_start, 8), flow::Step::progressed);
    EXPECT_EQ(stage.lines_read(), 2u);
    EXPECT_EQ(stage.step(k_start, 8), flow::Step::blocked);
    EXPECT_EQ(stage.step(k_start, 8), flow::Step::blocked);
    EXPECT_EQ(stage.lines_read(), 2u);                          // nothing more read while blocked
    EXPECT_EQ(facts.count(model::FactKind::job_accepted), 2u);  // job 2's fact went out once
    model::Job j;
    ASSERT_TRUE(consumer.try_dequeue(j));
    EXPECT_EQ(j.intake_seq, 1u);
    EXPECT_EQ(stage.step(k_start, 8), flow::Step::progressed);  // job 2 leaves, job 3 waits
    ASSERT_TRUE(consumer.try_dequeue(j));
    EXPECT_EQ(j.intake_seq, 2u);
    EXPECT_EQ(stage.counters().items_out(), 2u);
}

TEST_F(IngestStageTest, FullFactSinkBlocksAndEachFactIsEmittedOnce) {
    std::string input;
    for (int i = 1; i <= 6; ++i)
        input += valid_line(i, a) + "\n";
    FileInput file(input);
    JobChannel out(16);
    StubbornFacts stubborn(2);
    IngestStage stage(file.fd(), out, stubborn, context, nonces, registry, options());
    int blocked = 0;
    flow::Step s = flow::Step::progressed;
    for (int guard = 0; guard < 1000 && s != flow::Step::finished; ++guard) {
        s = stage.step(k_start, 4);
        if (s == flow::Step::blocked) ++blocked;
        // No job is visible downstream before its fact was accepted.
        EXPECT_EQ(out.size(), stubborn.emitted.size());
    }
    ASSERT_EQ(s, flow::Step::finished);
    EXPECT_GT(blocked, 0);
    ASSERT_EQ(stubborn.emitted.size(), 6u);
    for (std::size_t i = 0; i < 6; ++i) {
        EXPECT_EQ(stubborn.emitted[i].first, model::FactKind::job_accepted);
        EXPECT_EQ(stubborn.emitted[i].second, i + 1);
    }
}

TEST_F(IngestStageTest, RunnerWithConsumerThreadAndTinyChannel) {
    constexpr int k_jobs = 200;
    std::string input;
    for (int i = 1; i <= k_jobs; ++i)
        input += valid_line(i, i % 3 ? a : b) + "\n";
    input += "{}\n";
    FileInput file(input);
    JobChannel out(2);
    flow::ManualClock clock(k_start);
    flow::Runner runner(clock, flow::RunnerOptions{1, 16, 8, 5ms});
    auto& stage = runner.emplace<IngestStage>(0, file.fd(), out, facts, runner.context(), nonces,
                                              registry, options());
    std::vector<model::Job> got;
    std::thread consumer([&] {
        auto c = out.make_consumer();
        model::Job j;
        for (;;) {
            if (c.try_dequeue(j)) {
                got.push_back(j);
                runner.wake();
            } else if (out.closed_and_empty()) {
                break;
            } else {
                std::this_thread::yield();
            }
        }
    });
    runner.run();
    consumer.join();
    ASSERT_EQ(got.size(), static_cast<std::size_t>(k_jobs));
    for (int i = 0; i < k_jobs; ++i) {
        EXPECT_EQ(got[i].intake_seq, static_cast<std::uint64_t>(i + 1));
        EXPECT_EQ(got[i].record_id.view(), test::numbered("rec-", i + 1));
    }
    EXPECT_EQ(stage.rejected(RejectReason::schema), 1u);
}

TEST_F(IngestStageTest, LongLinesAreSkippedWithoutBufferingAndBlankLinesIgnored) {
    IngestOptions o = options();
    o.max_line = 2048;
    const std::string v1 = valid_line(1, a), v2 = valid_line(2, a), v3 = valid_line(3, a);
    ASSERT_LT(v1.size(), 2048u);
    std::string input;
    input += v1 + "\r\n";                      // line 1: CRLF
    input += "\n   \t\n";                      // lines 2-3: blank
    input += std::string(10'000, 'x') + "\n";  // line 4: far too long (streamed)
    input += std::string(2049, 'y') + "\n";    // line 5: one byte over
    input += v2 + "\n";                        // line 6
    input += "{\"protocol\":\"sl-drm\"}\n";    // line 7: schema
    input += v3;                               // line 8: no final newline
    FileInput file(input);
    JobChannel out(8);
    IngestStage stage(file.fd(), out, facts, context, nonces, registry, o);
    const auto got = drain(stage, out);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[2].record_id.view(), "rec-3");
    EXPECT_EQ(stage.rejected(RejectReason::too_large), 2u);
    EXPECT_EQ(stage.rejected(RejectReason::schema), 1u);
    EXPECT_EQ(stage.lines_read(), 6u);
    ASSERT_EQ(rejects.entries.size(), 3u);
    EXPECT_EQ(rejects.entries[0].line, 4u);
    EXPECT_EQ(rejects.entries[0].reason, RejectReason::too_large);
    EXPECT_NE(rejects.entries[0].message.find("10000 bytes"), std::string::npos)
        << rejects.entries[0].message;
    EXPECT_EQ(rejects.entries[1].line, 5u);
    EXPECT_NE(rejects.entries[1].message.find("2049 bytes"), std::string::npos);
    EXPECT_EQ(rejects.entries[2].line, 7u);
    EXPECT_EQ(rejects.entries[2].field, "version");
}

TEST_F(IngestStageTest, TooLongLastLineWithoutNewline) {
    IngestOptions o = options();
    o.max_line = 2048;
    FileInput file(valid_line(1, a) + "\n" + std::string(20000, 'z'));
    JobChannel out(8);
    IngestStage stage(file.fd(), out, facts, context, nonces, registry, o);
    EXPECT_EQ(drain(stage, out).size(), 1u);
    EXPECT_EQ(stage.rejected(RejectReason::too_large), 1u);
    ASSERT_EQ(rejects.entries.size(), 1u);
    EXPECT_EQ(rejects.entries[0].line, 2u);
    EXPECT_NE(rejects.entries[0].message.find("20000 bytes"), std::string::npos);
}

TEST_F(IngestStageTest, StopRequestedFinishesAfterHandingOnThePendingJob) {
    std::string input;
    for (int i = 1; i <= 10; ++i)
        input += valid_line(i, a) + "\n";
    FileInput file(input);
    JobChannel out(1);
    auto consumer = out.make_consumer();
    IngestStage stage(file.fd(), out, facts, context, nonces, registry, options());
    EXPECT_EQ(stage.step(k_start, 8), flow::Step::progressed);  // job 1 out, job 2 pending
    context.request_stop();
    EXPECT_EQ(stage.step(k_start, 8), flow::Step::blocked);  // still holds job 2
    EXPECT_FALSE(out.closed());
    model::Job j;
    ASSERT_TRUE(consumer.try_dequeue(j));
    EXPECT_EQ(stage.step(k_start, 8), flow::Step::finished);  // job 2 handed on, no more read
    ASSERT_TRUE(consumer.try_dequeue(j));
    EXPECT_EQ(j.intake_seq, 2u);
    EXPECT_FALSE(consumer.try_dequeue(j));
    EXPECT_TRUE(out.closed_and_empty());
    EXPECT_EQ(stage.lines_read(), 2u);
}

TEST_F(IngestStageTest, PipeInputNeverWaitsForTheWriter) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    JobChannel out(8);
    auto consumer = out.make_consumer();
    IngestOptions o = options();
    o.poll_interval = 3ms;
    IngestStage stage(fds[0], out, facts, context, nonces, registry, o);
    EXPECT_EQ(stage.step(k_start, 8), flow::Step::idle);  // nothing written yet
    EXPECT_EQ(context.deadline(), k_start + 3ms);
    // Half a line: still nothing to hand on.
    const std::string line = valid_line(1, a) + "\n";
    ASSERT_EQ(::write(fds[1], line.data(), 100), 100);
    EXPECT_EQ(stage.step(k_start, 8), flow::Step::idle);
    const auto rest = static_cast<ssize_t>(line.size() - 100);
    ASSERT_EQ(::write(fds[1], line.data() + 100, line.size() - 100), rest);
    EXPECT_EQ(stage.step(k_start, 8), flow::Step::progressed);
    model::Job j;
    ASSERT_TRUE(consumer.try_dequeue(j));
    EXPECT_EQ(j.record_id.view(), "rec-1");
    ::close(fds[1]);
    EXPECT_EQ(stage.step(k_start, 8), flow::Step::finished);
    ::close(fds[0]);
}

TEST_F(IngestStageTest, JsonLinesRejectLog) {
    std::FILE* log = std::tmpfile();
    ASSERT_NE(log, nullptr);
    JsonLinesRejectWriter writer(log);
    OJson bad = make_intent(base_record("n-9", "2024-05-01T11:59:30Z", "rec-\"q\""), a);
    bad["record"]["owners"][1]["shareBps"] = 10001;
    FileInput file(valid_line(1, a) + "\n" + bad.dump() + "\n[1]\n");
    JobChannel out(8);
    IngestOptions o = options();
    o.reject_sink = &writer;
    IngestStage stage(file.fd(), out, facts, context, nonces, registry, o);
    EXPECT_EQ(drain(stage, out).size(), 1u);
    ASSERT_TRUE(writer.ok());
    std::rewind(log);
    std::string text;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, log)) > 0)
        text.append(buf, n);
    std::fclose(log);
    EXPECT_EQ(
        text,
        "{\"line\":2,\"reason\":\"schema\",\"field\":\"record.owners[1].shareBps\","
        "\"message\":\"record.owners[1].shareBps must be an integer 0..10000\","
        "\"recordId\":\"rec-\\\"q\\\"\"}\n"
        "{\"line\":3,\"reason\":\"schema\",\"field\":\"\",\"message\":\"the intent must be "
        "a JSON object {protocol, version, record, signer, signature}\",\"recordId\":null}\n");
}

TEST_F(IngestStageTest, WallOffsetMapsTheRunnerClockToUnixTime) {
    FileInput file(valid_line(1, a) + "\n");
    JobChannel out(8);
    IngestOptions o = options();
    o.wall_offset = k_start - flow::Nanos{5s};  // runner clock starts near 0
    IngestStage stage(file.fd(), out, facts, context, nonces, registry, o);
    auto consumer = out.make_consumer();
    EXPECT_EQ(stage.step(flow::Nanos{5s}, 8), flow::Step::finished);  // one line, then EOF
    model::Job j;
    ASSERT_TRUE(consumer.try_dequeue(j));
    EXPECT_EQ(j.accepted_at, flow::Nanos{5s});  // the runner's time, not wall time
    EXPECT_EQ(stage.rejected(RejectReason::stale), 0u);
}

// ---- generated intents round-trip -------------------------------------------

struct Generated {
    std::string text;
    std::vector<GeneratedKind> kinds;
    std::string registry;
};

Generated generate(std::size_t count, std::size_t signers, double invalid_share,
                   std::uint64_t seed) {
    IntentGenOptions o;
    o.count = count;
    o.signers = signers;
    o.invalid_share = invalid_share;
    o.seed = seed;
    o.timestamp = test::test_now();
    IntentGenerator gen(o);
    Generated g;
    g.registry = gen.registry_text();
    std::string line;
    while (!gen.done()) {
        g.kinds.push_back(gen.next(line));
        g.text += line + "\n";
    }
    return g;
}

TEST(IngestGenerated, ValidIntentsRoundTripWithNoRejects) {
    const Generated g = generate(300, 7, 0.0, 1234);
    auto reg = InMemorySignerRegistry::parse(g.registry, "generated");
    ASSERT_TRUE(reg) << reg.error;
    EXPECT_EQ(reg.registry->active_count(), 7u);
    FileInput file(g.text);
    InMemoryNonceStore nonces(4096, 15min);
    model::CountingFactSink facts;
    flow::RunContext context;
    JobChannel out(4);
    auto consumer = out.make_consumer();
    IngestOptions o;
    RecordingRejects rejects;
    o.reject_sink = &rejects;
    IngestStage stage(file.fd(), out, facts, context, nonces, *reg.registry, o);
    std::size_t jobs = 0;
    // Validate a few minutes after generation, as a replay would.
    const flow::Nanos now = k_start + 3min;
    std::set<std::string> hashes;
    for (flow::Step s = flow::Step::progressed; s != flow::Step::finished;) {
        s = stage.step(now, 16);
        model::Job j;
        while (consumer.try_dequeue(j)) {
            ++jobs;
            hashes.insert(chain::to_hex(j.record_hash));
        }
    }
    for (const auto& r : rejects.entries)
        ADD_FAILURE() << r.line << ": " << r.message;
    EXPECT_EQ(jobs, 300u);
    EXPECT_EQ(hashes.size(), 300u);
    EXPECT_EQ(stage.counters().rejected(), 0u);
}

TEST(IngestGenerated, EachInvalidKindIsRejectedWithItsReason) {
    const Generated g = generate(600, 3, 0.25, 99);
    std::array<std::size_t, k_generated_kinds> per_kind{};
    for (GeneratedKind k : g.kinds)
        ++per_kind[static_cast<std::size_t>(k)];
    EXPECT_EQ(g.kinds.size() - per_kind[0], 150u);
    EXPECT_EQ(g.kinds[0], GeneratedKind::valid);
    for (std::size_t k = 1; k < k_generated_kinds; ++k)
        EXPECT_EQ(per_kind[k], 25u) << k;

    auto reg = InMemorySignerRegistry::parse(g.registry, "generated");
    ASSERT_TRUE(reg) << reg.error;
    FileInput file(g.text);
    InMemoryNonceStore nonces(4096, 15min);
    model::CountingFactSink facts;
    flow::RunContext context;
    JobChannel out(1000);
    IngestOptions o;
    RecordingRejects rejects;
    o.reject_sink = &rejects;
    IngestStage stage(file.fd(), out, facts, context, nonces, *reg.registry, o);
    while (stage.step(k_start + 1min, 64) != flow::Step::finished) {
    }
    EXPECT_EQ(stage.accepted(), per_kind[0]);
    // Line by line: every reject is on a line of an invalid kind, with its reason.
    std::size_t next = 0;
    for (std::size_t line = 1; line <= g.kinds.size(); ++line) {
        const GeneratedKind kind = g.kinds[line - 1];
        if (kind == GeneratedKind::valid) continue;
        ASSERT_LT(next, rejects.entries.size());
        const auto& r = rejects.entries[next++];
        EXPECT_EQ(r.line, line);
        EXPECT_EQ(reject_reason_name(r.reason), reject_reason_name(expected_reason(kind)))
            << generated_kind_name(kind) << " at line " << line << ": " << r.message;
    }
    EXPECT_EQ(next, rejects.entries.size());
    for (std::size_t k = 1; k < k_generated_kinds; ++k) {
        EXPECT_EQ(stage.rejected(expected_reason(static_cast<GeneratedKind>(k))), per_kind[k]);
    }
}

TEST(IngestGenerated, SameSeedSameRecordsButFreshKeys) {
    const Generated x = generate(20, 2, 0.3, 5);
    const Generated y = generate(20, 2, 0.3, 5);
    EXPECT_EQ(x.kinds, y.kinds);
    EXPECT_NE(x.registry, y.registry);  // keys come from the OS, not the seed
    // Record contents are the same: compare the recordId of the first line.
    const auto id = [](const std::string& text) {
        const auto at = text.find("\"recordId\":\"");
        return text.substr(at, 40);
    };
    EXPECT_EQ(id(x.text), id(y.text));
}

TEST(IngestGenerated, BadOptionsThrow) {
    IntentGenOptions o;
    o.count = 0;
    EXPECT_THROW(IntentGenerator{o}, std::invalid_argument);
    o.count = 1;
    o.signers = 0;
    EXPECT_THROW(IntentGenerator{o}, std::invalid_argument);
    o.signers = 1;
    o.invalid_share = 1.5;
    EXPECT_THROW(IntentGenerator{o}, std::invalid_argument);
}

}  // namespace
}  // namespace raregen::ingest
