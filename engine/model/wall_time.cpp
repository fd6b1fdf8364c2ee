#include "engine/model/wall_time.h"

namespace raregen::ingest {

flow::Nanos wall_clock_offset(const flow::Clock& clock) noexcept {
    const auto wall = std::chrono::duration_cast<flow::Nanos>(
        std::chrono::system_clock::now().time_since_epoch());
    return wall - clock.now();
}

}  // namespace raregen::ingest
