#pragma once
// `raregen status`: the monitoring queries an operator runs by hand
// (ops/sql/*.sql, compiled in as they are) read into one report:
//   throughput      sent in the last 3 s, and per second
//   batches         the newest N batches, each checked for its sequence
//                   (its jobs are exactly job_count, batch_seq 1..job_count)
//   pool            UTXOs by purpose, value and status
//   errors          failed jobs by code in a window, and their share
//   stuck_sending   jobs sending for more than 2 minutes
// All in one read-only snapshot (REPEATABLE READ), so the parts agree.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "storage/pg/connection.h"

namespace raregen::status {

using Json = nlohmann::ordered_json;

struct StatusOptions {
    std::int64_t batches = 100;          // newest batches checked
    std::int64_t error_window_s = 3600;  // window of the error rate
    std::int64_t publish_value = 100;    // the publish pool's UTXO value
};

// Runs the queries; `out` is the report (see the header comment).
pg::Status read_status(pg::Connection& conn, const StatusOptions& options, Json& out);

// The report as plain-text tables, for a terminal (`raregen status --table`).
std::string format_tables(const Json& report);

}  // namespace raregen::status
