#pragma once
// Wall-clock time for intent validation.
//
// The runner's clock (flow::Clock) is monotonic with an arbitrary epoch; a
// record's timestamp is a calendar time. Validation compares the two, so the
// ingest stage converts: wall = runner now + an offset fixed at start-up
// (wall_clock_offset()). Tests pass a ManualClock started at a Unix time and
// an offset of zero, so "now" is whatever the test says.

#include <chrono>

#include "engine/flow/clock.h"

namespace raregen::ingest {

// Nanoseconds since 1970-01-01T00:00:00Z (int64: good until 2262).
using WallTime = std::chrono::sys_time<std::chrono::nanoseconds>;

// What to add to `clock.now()` to get wall time, read once at start-up.
// Reads the system clock; never call it on a hot path.
flow::Nanos wall_clock_offset(const flow::Clock& clock) noexcept;

inline WallTime to_wall(flow::Nanos runner_now, flow::Nanos offset) noexcept {
    return WallTime{runner_now + offset};
}

}  // namespace raregen::ingest
