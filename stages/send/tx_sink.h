#pragma once
// TxSink: where released transactions go. The network (ARC) client is one
// sink; FileSink (a file of transactions, one per line) is another, for
// offline runs, replay and tests.
//
// Threads: one thread (the send stage's) calls a sink. try_send never blocks
// and allocates nothing per call after warm-up.

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/model/job.h"

namespace raregen::send {

enum class SinkStatus : std::uint8_t {
    accepted,  // the sink took the transaction
    full,      // not now: keep it and try again (backpressure)
    failed,    // the sink refused it for good; last_error() says why
};

class TxSink {
  public:
    virtual ~TxSink() = default;
    virtual SinkStatus try_send(const model::Job& job) noexcept = 0;
    // Makes everything accepted so far durable/visible. False on failure.
    virtual bool flush() noexcept = 0;
    virtual std::string_view last_error() const noexcept = 0;
};

}  // namespace raregen::send
