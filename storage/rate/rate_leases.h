#pragma once
// The shared rate limit's leases (table raregen_rate_leases, migration 6):
// MAX_TX_PER_3S across every engine on one database.
//
// The `raregen_rate_tokens` row of a gate holds its capacity and period. An
// engine takes tokens in slices (acquire_slice), spends them at its own gate,
// and settles a slice (settle_slice) once the network has answered for every
// token it spent from it: a slice counts against the capacity while it is
// unsettled and for one period after it settled. That is the gate's held-
// token rule (stages/gate/token_bucket.h) across engines: a token is spent
// again no sooner than one period after the network answered for its last
// use, so the engines together never put more than the capacity into any
// window of one period at the network. Unspent tokens go back at once
// (shrink_slice). All times are the database's clock: one clock for all
// engines.
//
// A dead engine's slices: acquire_slice settles every unsettled slice of an
// engine that holds neither its rate lock (hold_rate_lock, taken by that
// engine's lease connection) nor a fresh heartbeat in raregen_instances
// (storage/jobs). Such a slice is settled `grace` in the future: what the
// engine had in flight (requests ARC may still process) lands before its
// tokens can be spent again. A live engine whose lease connection broke
// keeps its heartbeat and so its slices; a killed one's share returns
// within stale + grace + period.
//
// Every function is one short transaction over `conn` under a lock on the
// gate's row; they allocate (a service thread, not a stage) and report a
// failed pg::Status rather than throw.

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "storage/pg/connection.h"

namespace raregen::rate {

inline constexpr std::string_view k_publish_gate = "publish";
// The advisory lock class (first key) of an engine's rate lock: "rgnr".
inline constexpr int k_rate_lock_class = 0x72676e72;

// When another engine's unsettled slices are taken for dead.
struct ReapRule {
    std::chrono::milliseconds stale{5000};   // no heartbeat for this long
    std::chrono::milliseconds grace{15000};  // settled this far in the future
};

struct Slice {
    std::int64_t lease_id = 0;  // 0: nothing granted
    std::uint32_t tokens = 0;   // granted, <= wanted
    // When tokens were short: how long until the earliest settled slice
    // returns its tokens (-1: none settled; tokens come back only as slices
    // settle). The database's clock.
    std::chrono::milliseconds next_return{-1};
    std::uint32_t capacity = 0;  // the gate's row
    std::chrono::milliseconds period{0};
    std::uint32_t reaped = 0;  // slices of dead engines settled by this call
};

// Sets the gate's capacity and period (the engine's MAX_TX_PER_3S);
// `previous` is the capacity it had before, 0 when nothing changed.
pg::Status configure_gate(pg::Connection& conn, std::string_view gate, std::uint32_t capacity,
                          std::chrono::milliseconds period, std::uint32_t& previous);

// Takes `instance_id`'s rate lock on this session (held until it ends);
// `held` false: another session has it.
pg::Status hold_rate_lock(pg::Connection& conn, std::string_view instance_id, bool& held);

// Grants up to `want` tokens (>= 1) to `instance_id` as one new slice.
pg::Status acquire_slice(pg::Connection& conn, std::string_view gate, std::string_view instance_id,
                         std::uint32_t want, Slice& out, const ReapRule& reap = {});

// The slice's tokens that were not spent go back: it keeps `spent` (0:
// the slice is deleted). `found` false: the slice was no longer open
// (another engine settled it for dead).
pg::Status shrink_slice(pg::Connection& conn, std::int64_t lease_id, std::uint32_t spent,
                        bool& found);

// Every token spent from the slice has its answer: the slice keeps `spent`
// tokens (0: deleted) and its period starts now. `found` as above.
pg::Status settle_slice(pg::Connection& conn, std::int64_t lease_id, std::uint32_t spent,
                        bool& found);

// Deletes `instance_id`'s open slices other than `known` (a slice whose
// acquire committed but whose answer was lost: none of its tokens was
// handed out).
pg::Status drop_unknown_slices(pg::Connection& conn, std::string_view instance_id,
                               const std::vector<std::int64_t>& known);

// Tokens counting against the capacity now (unsettled or settled within the
// last period), for status and tests.
pg::Status outstanding_tokens(pg::Connection& conn, std::string_view gate, std::int64_t& out);

}  // namespace raregen::rate
