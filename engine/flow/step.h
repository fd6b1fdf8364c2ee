#pragma once
// The one result a stage's step() returns (see stage.h). The runner decides
// what to do next from it alone: call again, back off, count backpressure, or
// stop calling.

#include <cstdint>
#include <string_view>

namespace raregen::flow {

enum class Step : std::uint8_t {
    // Took or handed on at least one item, or changed other state another
    // stage can see. Call again soon: there may be more. The runner wakes
    // parked threads after progress, so a step that took an input item and
    // then found its output full should still report progressed (its
    // upstream now has room) and report blocked on the next call. (A slip
    // here is rarely visible, since any progress anywhere wakes every parked
    // thread, but at worst it costs the upstream a park_timeout.)
    progressed,
    // Nothing to read and nothing pending: the input is empty but still open,
    // or a source has no new intake, or a timer has not come due yet. The
    // runner may park the thread until someone wakes it (or the deadline the
    // stage asked for with RunContext::wake_by() arrives).
    idle,
    // Nothing moved because an output is full. The stage kept the item it
    // could not hand on and will offer it again on the next call; nothing was
    // dropped and no queue grew.
    // The runner counts it (StageCounters::blocked_count) and backs off like
    // idle until a downstream stage makes room.
    blocked,
    // Terminal: input closed and drained (or, for a source, stop requested or
    // intake exhausted), every pending item handed on, and every output
    // channel closed. The runner never calls step() again.
    finished,
};

constexpr std::string_view to_string(Step s) noexcept {
    switch (s) {
        case Step::progressed:
            return "progressed";
        case Step::idle:
            return "idle";
        case Step::blocked:
            return "blocked";
        case Step::finished:
            return "finished";
    }
    return "unknown";
}

}  // namespace raregen::flow
