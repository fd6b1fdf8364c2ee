#pragma once
// The database of the commands that work on a shared one (`raregen utxos
// import|status`, `raregen status`): $DATABASE_URL, never a temporary
// embedded cluster (what they read or write would vanish with it).

#include <optional>

#include "storage/pg/connection.h"

namespace raregen::cli {

// Connects to $DATABASE_URL (and brings its schema up to date if `migrate`),
// or says why not on stderr and sets `exit_code` (2: not set or not
// reachable; 1: the migration failed). Messages never show a password.
std::optional<pg::Connection> open_database(int& exit_code, bool migrate = true);

}  // namespace raregen::cli
