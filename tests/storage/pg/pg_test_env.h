#pragma once
// The test binary's one embedded PostgreSQL cluster, and a fixture that hands
// each test a fresh database in it.
//
// The cluster starts on first use (from a fixture's SetUp, on the main
// thread: the server is tied to the thread that starts it) and stops when
// the binary exits (a gtest Environment). ctest runs each test in its own
// process, so there each test that needs a server starts one (about a second).
// If the server cannot start, every test using it FAILS with the reason; none
// is skipped. RAREGEN_PG_BIN names another directory holding initdb and
// postgres (default: Debian's /usr/lib/postgresql/15/bin).

#include <gtest/gtest.h>

#include <string>

#include "storage/pg/connection.h"
#include "storage/pg/embedded.h"

namespace raregen::pg::testing {

// The shared cluster, started if needed; nullptr if it could not start (see
// shared_cluster_error()).
EmbeddedPostgres* shared_cluster();
const std::string& shared_cluster_error();

class PgTest : public ::testing::Test {
  protected:
    void SetUp() override;

    // Drops and creates a database named after the running test; returns its
    // connection string.
    std::string fresh_database(const std::string& suffix = "");
    // Connects; throws ConnectError (which fails the test, with the reason) if it cannot.
    static Connection connect(const std::string& conninfo);

    EmbeddedPostgres* m_pg = nullptr;
};

}  // namespace raregen::pg::testing
