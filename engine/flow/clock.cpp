#include "engine/flow/clock.h"

namespace raregen::flow {

Nanos SteadyClock::now() const noexcept {
    return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now().time_since_epoch());
}

}  // namespace raregen::flow
