#pragma once
// Start-up loading of the `nonces` table into ingest's InMemoryNonceStore.
//
// Postgres is never on ingest's hot path: the engine loads the nonces that can
// still matter once, before the pipeline starts, and afterwards only the
// write-behind writes new ones. "Can still matter" is the store's own rule: a
// nonce older than the retention (the validator's max age + future skew)
// belongs to a record that would be refused as stale anyway.
//
// Table (the RareGen service's, docs/protocol.md §6; created by pg::migrate):
//   nonces (pubkey_hex text, nonce text, record_id text, seen_at timestamptz,
//           unique (pubkey_hex, nonce))
//
// Threads: one thread uses the Connection and the store (neither is
// thread-safe). Blocks for the whole load and allocates (libpq results); the
// store itself allocates nothing. Start-up only.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "engine/model/nonce_store.h"
#include "storage/pg/connection.h"

namespace raregen::keys {

struct NonceLoadOptions {
    // Rows fetched per round trip from the server-side cursor: bounds the
    // memory of one libpq result whatever the table's size. At least 1.
    std::size_t page_rows = 50'000;
};

struct NonceLoad {
    std::size_t loaded = 0;      // rows recorded in the store
    std::size_t invalid = 0;     // rows skipped: pubkey_hex is not a valid compressed key
    std::size_t duplicates = 0;  // rows skipped: the store already held the pair (hex case differs)
    std::size_t pages = 0;       // FETCHes that returned rows
    bool full = false;           // the store ran out of room (then error says so)
    // What was wrong with the first k_max_reported_problems skipped rows.
    std::vector<std::string> problems;
    // Empty on success; else what failed and what to do. The store then holds
    // part of the table: do not start the engine with it.
    std::string error;
    bool ok() const { return error.empty(); }
};

// Records every row of `nonces` whose seen_at is newer than the database's
// now() - `retention` in `store`, at its seen_at (WallTime, microsecond
// precision). Call it on a fresh store at start-up (the rows go in newest
// first and each is recorded "at" its own seen_at, so no loaded entry can
// push out another one as expired whatever the clocks' skew; entries the
// store held before may be). `retention` should be store.retention().
//
// Reads through a server-side cursor in one read-only transaction (one
// snapshot), options.page_rows rows per round trip. A row with an invalid
// pubkey_hex is skipped and counted. If the store is full, loading stops with
// full set and an error saying to raise the nonce capacity. Must not be
// called inside a transaction already open on `conn`.
NonceLoad load_recent_nonces(pg::Connection& conn, ingest::InMemoryNonceStore& store,
                             std::chrono::nanoseconds retention,
                             const NonceLoadOptions& options = {});

}  // namespace raregen::keys
