#pragma once
// The exactly-once audit: the one judgement the demo's proof, the crash
// tests and the engine's own tests make of a database after a run, and,
// when given, of what was handed over (the network's accepted transactions,
// or the lines of an output file).
//
// Over the database (the jobs of one instance, or of every raregen engine):
//  - every job ended: sent/confirmed (with its txid and signed bytes) or
//    failed (with its code); none left queued, batched or sending (judging
//    every engine's jobs, also no queued row that no engine claimed)
//  - every batch id has exactly one publish_batches row whose job_count is
//    the number of jobs carrying the id, and batch_seq 1..N without gap or
//    repeat (rows of the old service, no raregen owner, are not judged)
//  - every UTXO a sent job spent has its `utxos` row, `spent` by that job's
//    txid
// Against what was handed over:
//  - each sent job's record hash is published by exactly one transaction,
//    and it is the job's txid; every publication is a sent job's; no
//    outpoint is spent by two transactions (the same txid handed over twice
//    is one transaction: identical resends are allowed)

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/chain/bytes.h"
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

// One transaction handed over, as the audit compares it.
struct HandedOver {
    std::string txid;                // display hex
    std::string record_hash;         // hex of the published hash; empty: not a publication
    std::vector<std::string> spent;  // "TXID:VOUT" of each input
};
// Reads a serialized transaction (raw or Extended Format); nullopt if the
// bytes are not a transaction.
std::optional<HandedOver> handed_over(chain::ByteSpan tx);

struct ExactlyOnceAudit {
    // The database.
    std::uint64_t jobs = 0, sent = 0, failed = 0, unfinished = 0;
    std::map<std::string, std::uint64_t> failed_by_code;
    std::uint64_t sent_without_tx = 0;      // sent/confirmed without txid or signed bytes
    std::uint64_t failed_without_code = 0;  // failed without an error code
    std::uint64_t utxo_disagrees = 0;  // sent jobs whose UTXO row is missing or not spent by them
    BatchAudit batches;
    // Against what was handed over (compared = true).
    bool compared = false;
    std::uint64_t transactions = 0;    // distinct txids handed over
    std::uint64_t publications = 0;    // of them, carrying a record hash
    std::uint64_t matched = 0;         // sent jobs found under their own txid
    std::uint64_t missing = 0;         // sent jobs whose record hash nobody published
    std::uint64_t twice = 0;           // record hashes published by several transactions
    std::uint64_t txid_differs = 0;    // published once, under another txid than the job's
    std::uint64_t not_a_sent_job = 0;  // publications of no sent job's record hash
    std::uint64_t outpoint_twice = 0;  // outpoints spent by several transactions
    std::string example;               // one offence, for a message

    bool ok() const {
        const bool db =
            unfinished == 0 && sent_without_tx == 0 && utxo_disagrees == 0 && batches.ok();
        if (!compared) return db;
        return db && matched == sent && missing == 0 && twice == 0 && txid_differs == 0 &&
               not_a_sent_job == 0 && outpoint_twice == 0;
    }
};

// Audits the jobs of `instance_id` (every raregen job if empty); with
// `handed` (may be null), against those transactions too. No jobs at all is
// ok(): callers that expect work check `sent` as well.
pg::Status audit_exactly_once(pg::Connection& conn, const std::string& instance_id,
                              const std::vector<HandedOver>* handed, ExactlyOnceAudit& out);

}  // namespace raregen::jobs
