#pragma once
// The batch half of the exactly-once audit (the demo's proof and every test
// that proves exactly-once use it): for every batch id raregen's jobs carry,
// exactly one publish_batches row whose job_count is the number of jobs that
// carry the id, and batch_seq 1..N without gap or repeat. Rows the old
// service wrote (no raregen owner) are its history and are not judged.

#include <cstdint>
#include <string>

#include "storage/pg/connection.h"

namespace raregen::jobs {

struct BatchAudit {
    std::uint64_t batches = 0;        // batch ids judged
    std::uint64_t without_row = 0;    // no publish_batches row
    std::uint64_t count_differs = 0;  // a row whose job_count is not the jobs carrying the id
    std::uint64_t seq_broken = 0;     // batch_seq not exactly 1..N
    std::string example;              // one offending batch id, for a message
    bool ok() const { return without_row == 0 && count_differs == 0 && seq_broken == 0; }
};

// Judges the batches of jobs owned by `instance_id`, or of every raregen
// job if it is empty.
pg::Status audit_batches(pg::Connection& conn, const std::string& instance_id, BatchAudit& out);

}  // namespace raregen::jobs
