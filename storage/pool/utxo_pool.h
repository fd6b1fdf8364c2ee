#pragma once
// The `utxos` table as a pool shared by engine instances: leasing publish
// UTXOs to one instance, renewing, releasing and reclaiming its leases,
// importing outpoints, and counting what is there.
//
// Leases. A leased row is status 'reserved', leased_by = the instance id,
// lease_until = reserved_until = the server's now() + the lease duration.
// lease_utxos picks rows with FOR UPDATE SKIP LOCKED in the same statement
// that marks them, so engines leasing at the same time from one database
// never receive the same row (docs/design.md invariant 4 starts here; the unique
// index publish_jobs_spent_outpoint_key is the backstop). Only rows with
// purpose 'publish', status 'available', dirty not true, a lowercase 64-hex
// txid, a vout in 0..2^32-1 and a positive value are leased, so every
// outpoint handed out parses and names its row exactly (release and reclaim
// match rows by the text txid).
//
// Who ends a lease:
//   * the instance itself on graceful shutdown: release_utxos for what is
//     still unused in its ring (PoolFeeder::stop does it);
//   * anyone, for an instance known dead: reclaim_utxos;
//   * anyone, for leases that ran out: reclaim_expired. A live instance whose
//     renewals stall past its lease can lose rows it still holds this way;
//     the unique spent-outpoint index then refuses a second durable spend,
//     so renew well inside the lease (PoolFeeder renews every lease/3).
// Reclaim looks at publish_jobs: a reserved row that some job's signed
// transaction spends (publish_jobs.spent_txid/spent_vout; the signed bytes
// are durable, so the transaction may be on the network) becomes 'spent'
// with spent_by_txid = that job's txid; every other one becomes 'available'
// again with its lease and reservation columns cleared. Rows the RareGen
// service reserved (leased_by NULL) are never touched by reclaim or release.
//
// A lease whose statement fails with the connection (the commit's outcome
// unknown) may have reserved rows the caller never saw: they stay reserved
// under the instance id, renewed by it, and come back when the instance is
// reclaimed after it stops. Never lost, never handed out twice.
//
// Threads: each function uses its `conn` for the call (one thread at a time,
// libpq's rule) and blocks for one or a few round trips. Everything here
// allocates: start-up, the feeder thread and the command line, never a
// stage's hot path. Expected failures (database down, a statement refused)
// come back as a failed pg::Status; nothing throws.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chain/publication.h"
#include "storage/pg/connection.h"

namespace raregen::pool {

// The value of one publication UTXO (the seed's split makes 100-satoshi
// outputs). Only outputs of exactly this value are leased.
inline constexpr std::int64_t k_publish_value = 100;

// A value, or the failure that prevented it (value is then default).
template <class T>
struct PoolResult {
    pg::Status status;
    T value{};
    bool ok() const { return status.ok(); }
};

// The utxos.purpose values.
enum class Purpose : std::uint8_t { publish, funding, change };
std::string_view purpose_name(Purpose p);
// "publish", "funding" or "change"; nullopt otherwise.
std::optional<Purpose> parse_purpose(std::string_view text);

// Leases up to `max_n` publish UTXOs to `instance_id` for `lease` (whole
// milliseconds, at least 1) and returns them sorted by (txid, vout). Rows are
// picked in the order the (purpose, status) index yields them, not sorted:
// sorting would make each lease scan the whole pool. Fewer than max_n (or
// none) means that is all that was available and not locked by another lease
// in flight. Precondition: instance_id not empty.
//
// Only rows of exactly `publish_value` satoshis are leased: a publication
// spends its whole input with no change, so anything larger would be burnt
// as fee. Larger 'publish' rows (the old service recorded its split's change
// that way) stay where they are, as funding (PoolStatus::oversized).
PoolResult<std::vector<chain::Utxo>> lease_utxos(pg::Connection& conn, std::string_view instance_id,
                                                 std::size_t max_n, std::chrono::milliseconds lease,
                                                 std::int64_t publish_value = k_publish_value);

// True if some row could still be leased (ignores row locks). Lets a caller
// tell "the pool is empty" from "another engine was leasing the rest just then".
PoolResult<bool> has_available(pg::Connection& conn, std::int64_t publish_value = k_publish_value);

// True if a publish UTXO is leasable now, or another engine (not
// `instance_id`) holds one it has not spent (those come back to the pool when
// it stops or dies), judged in one snapshot. A batch run that found the pool
// empty waits while this holds rather than give up.
PoolResult<bool> pool_may_supply(pg::Connection& conn, std::string_view instance_id,
                                 std::int64_t publish_value = k_publish_value);

// Sets lease_until (and reserved_until) of every reserved row leased by
// `instance_id` to now() + lease. Returns how many rows it extended.
PoolResult<std::uint64_t> renew_leases(pg::Connection& conn, std::string_view instance_id,
                                       std::chrono::milliseconds lease);

struct ReclaimCounts {
    std::uint64_t spent = 0;      // a durable job spends it: now 'spent'
    std::uint64_t available = 0;  // back in the pool
};

// Ends every reserved lease of `instance_id`, which must be known dead (no
// longer signing from these rows): see the top of this file.
PoolResult<ReclaimCounts> reclaim_utxos(pg::Connection& conn, std::string_view instance_id);
// The same for every reserved row whose lease_until has passed (server time),
// whoever held it.
PoolResult<ReclaimCounts> reclaim_expired(pg::Connection& conn);

// Graceful shutdown: `utxos` (taken out of the ring, never given to a job)
// go back to 'available'. Only rows still reserved by `instance_id` and not
// spent by any job's signed transaction change; returns how many did.
PoolResult<std::uint64_t> release_utxos(pg::Connection& conn, std::string_view instance_id,
                                        std::span<const chain::Utxo> utxos);

struct ImportUtxo {
    chain::Utxo utxo;
    // Hex locking script; NULL in the row is not allowed by the schema, so
    // absent is stored as '' (meaning: the engine's own key's P2PKH script,
    // as in a UTXO file).
    std::optional<std::string> script_pub_key;
    std::optional<std::string> address;
};

struct ImportCounts {
    std::uint64_t inserted = 0;
    // Already in the table (any status), or repeated within `utxos`.
    std::uint64_t already_present = 0;
};

// Inserts `utxos` as status 'available' with `purpose` (INSERT ... ON
// CONFLICT (txid, vout) DO NOTHING, k_import_batch rows per statement, all
// in one transaction). Importing the same outpoints again changes nothing.
// Fails, inserting nothing, if a value is negative or a script is not hex.
PoolResult<ImportCounts> import_utxos(pg::Connection& conn, std::span<const ImportUtxo> utxos,
                                      Purpose purpose);
inline constexpr std::size_t k_import_batch = 10'000;

struct StatusCount {
    std::string purpose;  // as stored (the old service's rows may hold other words)
    std::string status;
    std::uint64_t count = 0;
    std::uint64_t dirty = 0;  // of count, rows with dirty true
    std::int64_t satoshis = 0;
};

struct InstanceLeases {
    std::string instance_id;
    std::uint64_t reserved = 0;
    std::uint64_t expired = 0;  // of reserved, lease_until already passed
};

struct PoolStatus {
    std::vector<StatusCount> by_purpose_status;  // ordered by purpose, status
    std::vector<InstanceLeases> by_instance;     // ordered by instance id
    std::uint64_t total = 0;
    std::uint64_t leasable = 0;  // what lease_utxos could hand out now
    // Reserved without leased_by: the RareGen service's reservations.
    std::uint64_t reserved_unleased = 0;
    // Available 'publish' rows worth more than the publish value: never
    // leased for a publication (funding to split instead), and their total.
    std::uint64_t oversized = 0;
    std::int64_t oversized_satoshis = 0;
};

PoolResult<PoolStatus> pool_status(pg::Connection& conn,
                                   std::int64_t publish_value = k_publish_value);

}  // namespace raregen::pool
