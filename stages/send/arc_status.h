#pragma once
// ARC's status words that requests name (docs/protocol.md §5), header-only so
// that both the client and the local network read the one list.

#include <array>
#include <string_view>

namespace raregen::send {

// What X-WaitFor takes: ARC answers a request naming anything else with 400.
inline constexpr std::array<std::string_view, 10> k_arc_wait_for_statuses = {
    "QUEUED",
    "RECEIVED",
    "STORED",
    "ANNOUNCED_TO_NETWORK",
    "REQUESTED_BY_NETWORK",
    "SENT_TO_NETWORK",
    "ACCEPTED_BY_NETWORK",
    "SEEN_IN_ORPHAN_MEMPOOL",
    "SEEN_ON_NETWORK",
    "MINED"};

// True if `status` is one of k_arc_wait_for_statuses (exact, upper case).
inline bool arc_wait_for_status(std::string_view status) noexcept {
    for (std::string_view name : k_arc_wait_for_statuses)
        if (status == name) return true;
    return false;
}

}  // namespace raregen::send
