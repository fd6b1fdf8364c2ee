#include "stages/send/file_send_stage.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "engine/chain/bytes.h"
#include "stages/send/file_sink.h"

namespace raregen::send {
namespace {

using JobChannel = flow::Channel<model::Job>;

model::Job job_with_bytes(std::uint8_t tag) {
    model::Job j;
    j.intake_seq = tag;
    const std::uint8_t raw[3] = {tag, 0x01, 0x02};
    const std::uint8_t ef[4] = {tag, 0xef, 0x00, 0x01};
    j.raw.assign(raw);
    j.ef.assign(ef);
    return j;
}

// A sink that is full every other call and refuses tag 3 for good.
class FlakySink final : public TxSink {
  public:
    SinkStatus try_send(const model::Job& job) noexcept override {
        if (++m_calls % 2 == 0) return SinkStatus::full;
        if (job.intake_seq == 3) return SinkStatus::failed;
        accepted.push_back(job.intake_seq);
        return SinkStatus::accepted;
    }
    bool flush() noexcept override {
        ++flushes;
        return true;
    }
    std::string_view last_error() const noexcept override { return "refused"; }
    std::vector<std::uint64_t> accepted;
    int flushes = 0;

  private:
    int m_calls = 0;
};

TEST(FileSendStage, EveryJobOnceThroughAFlakySinkThenFlush) {
    JobChannel in(8);
    auto feed = in.make_producer();
    model::CountingFactSink facts;
    FlakySink sink;
    FileSendStage stage(in, sink, facts);
    for (std::uint8_t i = 1; i <= 6; ++i)
        ASSERT_TRUE(feed.try_enqueue(job_with_bytes(i)));
    feed.close();
    flow::Step s = flow::Step::progressed;
    int guard = 0;
    while (s != flow::Step::finished && ++guard < 100)
        s = stage.step(flow::Nanos{0}, 4);
    ASSERT_EQ(s, flow::Step::finished);
    EXPECT_EQ(sink.accepted, (std::vector<std::uint64_t>{1, 2, 4, 5, 6}));
    EXPECT_EQ(stage.sent(), 5u);
    EXPECT_EQ(stage.failed(), 1u);
    EXPECT_EQ(facts.count(model::FactKind::tx_sent), 5u);
    EXPECT_EQ(facts.count(model::FactKind::job_failed), 1u);
    EXPECT_EQ(sink.flushes, 1);
}

TEST(FileSink, WritesOneHexLinePerTransaction) {
    const std::string path = ::testing::TempDir() + "/file_sink_test.txt";
    for (TxEncoding enc : {TxEncoding::raw_hex, TxEncoding::ef_hex}) {
        {
            FileSink sink(path, enc);
            EXPECT_EQ(sink.try_send(job_with_bytes(0xaa)), SinkStatus::accepted);
            EXPECT_EQ(sink.try_send(job_with_bytes(0xbb)), SinkStatus::accepted);
            EXPECT_TRUE(sink.flush());
        }
        std::ifstream f(path);
        std::vector<std::string> lines;
        for (std::string l; std::getline(f, l);)
            lines.push_back(l);
        if (enc == TxEncoding::raw_hex) {
            EXPECT_EQ(lines, (std::vector<std::string>{"aa0102", "bb0102"}));
        } else {
            EXPECT_EQ(lines, (std::vector<std::string>{"aaef0001", "bbef0001"}));
        }
    }
    std::remove(path.c_str());
}

TEST(FileSink, UnwritablePathIsAClearStartUpError) {
    try {
        FileSink sink("/nonexistent-dir/out.txt", TxEncoding::raw_hex);
        FAIL() << "expected an error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/out.txt"), std::string::npos);
    }
}

}  // namespace
}  // namespace raregen::send
