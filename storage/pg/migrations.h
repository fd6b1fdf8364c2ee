#pragma once
// Versioned schema migrations, applied at start-up.
//
// Each migration runs in its own transaction and is recorded in
// raregen_schema_migrations(version, name, applied_at) in the same
// transaction, so it is applied entirely or not at all, and exactly once.
// Every transaction first takes one transaction-scoped advisory lock, so
// engines starting together against one database apply each migration once
// between them: the others wait, then find it recorded and skip it.
//
// Compatibility with the RareGen service (docs/protocol.md §6): migration 1
// creates its tables with CREATE TABLE IF NOT EXISTS and then adds any of its
// listed columns a table lacks (ADD COLUMN IF NOT EXISTS, nullable, no
// default that could change a row's meaning), so a database the old service
// used keeps its rows, columns and types, and the old service can keep
// running against it. Later migrations only add (columns, indexes, tables).
// Tables live in the first schema of the connection's search_path, like the
// old service's. Every lock wait (the advisory lock's too) lasts at most
// k_migration_lock_timeout: a table the old service keeps busy makes the
// migration fail saying so, rather than hang.
//
// A migration is one transaction, so indexes are built without CONCURRENTLY:
// on a large old publish_jobs table, migration 2 blocks the old service's
// writes while they build. Run the first start in a quiet moment.
//
// Threads and cost: blocks on the database (and on other engines' migrations);
// start-up only.

#include <span>
#include <vector>

#include "storage/pg/connection.h"

namespace raregen::pg {

struct Migration {
    int version;       // 1, 2, ...: strictly increasing in a list
    const char* name;  // snake_case, recorded with the version
    const char* sql;   // one or more statements (run as one simple query)
};

// raregen's migrations, oldest first:
//   1 raregen_service_tables  the RareGen service's six tables
//   2 exactly_once            signed bytes and spent outpoint per job, UTXO
//                             leases, engine instances, the shared rate gate,
//                             the unique keys and indexes the engine relies on
//   3 outcomes_in_place       no index mentions publish_jobs.status, so a job's
//                             outcome is written in place (HOT); fillfactor 50
//   4 old_service_audit_log   audit_log.event_type, the old service's name
//                             for the event (NOT NULL in its schema)
std::span<const Migration> builtin_migrations();

// The advisory lock key every migration transaction takes ("raregen" + 1).
inline constexpr long long k_migration_lock_key = 0x7261726567656e31;
// How long a migration's statements wait for a table lock.
inline constexpr const char* k_migration_lock_timeout = "60s";

struct MigrationReport {
    int version_before = 0;    // newest version recorded before this call (0: none)
    int version_after = 0;     // newest version recorded after it
    std::vector<int> applied;  // versions this call applied; empty: nothing to do
};

// Brings the database up to the newest of `migrations` (default: the builtin
// list). Returns a failure, with the migration's version and name and the
// server's message, if one fails (it is rolled back; the earlier ones stay),
// or if the database records a version newer than any in the list (an older
// raregen must not write to a schema it does not know). `report`, if given,
// is filled in either case.
Status migrate(Connection& conn, MigrationReport* report = nullptr);
Status migrate(Connection& conn, std::span<const Migration> migrations,
               MigrationReport* report = nullptr);

}  // namespace raregen::pg
