#pragma once
// The replenisher's durable record of split transactions (table
// raregen_splits, migration 5) and the `utxos` rows they move.
//
// A split's life, each step one transaction:
//   record_split   the signed bytes are written (status 'signed') and the
//                  funding row, which must still be 'available', becomes
//                  'spent' by the split's txid. Only then is it sent: after a
//                  crash the split is found here and its same bytes sent
//                  again (looked up by txid), never a second transaction
//                  from that funding. A unique index allows one split per
//                  funding outpoint that was not refused.
//   accept_split   ARC accepted it: status 'accepted', its outputs inserted
//                  as available 'publish' rows and its change as an available
//                  'change' row. Outputs of a split ARC has not accepted are
//                  never in `utxos`, so no job can lease them.
//   refuse_split   ARC refused it for good: status 'refused', and the funding
//                  row back to 'available' with dirty = true (the refusal may
//                  mean the output is not what the table says: it is not
//                  picked again until an operator clears it).
// A split ARC gave no verdict for stays 'signed' (pending_splits) with its
// funding spent: it may be on the network.
//
// Every function uses `conn` for one call (libpq's one-thread rule),
// allocates freely (a service thread, never a stage) and reports a failed
// pg::Status rather than throw.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chain/publication.h"
#include "engine/chain/tx.h"
#include "storage/pg/connection.h"
#include "storage/pool/utxo_pool.h"

namespace raregen::pool {

struct SplitRecord {
    std::string txid;  // display hex
    chain::Utxo funding;
    std::size_t outputs = 0;  // vouts 0..outputs-1 of `each` satoshis
    std::int64_t each = 0;
    std::int64_t change = 0;  // vout `outputs` when > 0
    std::uint64_t fee = 0;
    std::vector<std::uint8_t> raw;  // the bytes sent (extended format)
};

// The pool's depth as the replenisher judges it: 'publish' rows of exactly
// `publish_value` satoshis, not dirty, available (the seed's query) or
// leased into an engine's ring and not yet spent (an engine leases ahead of
// its jobs: counting only 'available' would split for UTXOs already held).
PoolResult<std::uint64_t> publish_depth(pg::Connection& conn,
                                        std::int64_t publish_value = k_publish_value);

struct FundingState {
    std::optional<chain::Utxo> largest;  // the largest usable funding/change row
    std::uint64_t outputs = 0;           // usable funding/change rows
    std::int64_t satoshis = 0;           // their total
};
// Funding the replenisher may split: available 'funding' and 'change' rows,
// not dirty, whose script is `script_hex` (the key's P2PKH) or '' (the same,
// as a UTXO file gives it). `min_value`: smaller rows are not counted.
PoolResult<FundingState> funding_state(pg::Connection& conn, std::string_view script_hex,
                                       std::int64_t min_value);

// See the top of the file. record_split fails (SQLSTATE P0002 from the
// server, nothing written) if the funding row is no longer available.
pg::Status record_split(pg::Connection& conn, const SplitRecord& split,
                        std::string_view instance_id);
pg::Status accept_split(pg::Connection& conn, const SplitRecord& split);
pg::Status refuse_split(pg::Connection& conn, const SplitRecord& split, std::string_view detail);

// Splits recorded and not yet accepted or refused, oldest first.
PoolResult<std::vector<SplitRecord>> pending_splits(pg::Connection& conn);

// Session advisory lock held by the one replenisher running across engines
// (pg_try_advisory_lock on `conn`'s session; released by unlock or when the
// session ends, so a killed engine's lock goes with its connection).
PoolResult<bool> try_lock_replenisher(pg::Connection& conn);
pg::Status unlock_replenisher(pg::Connection& conn);
inline constexpr std::int64_t k_replenisher_lock_key = 0x7261726567656E32;  // "raregen2"

}  // namespace raregen::pool
