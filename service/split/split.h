#pragma once
// Splitting a funding output into publish UTXOs at ARC: the workflow behind
// `raregen utxos split` (and the seed of the replenisher). A chain of split
// transactions (engine/chain/split.h), each spending the previous one's
// change: built, broadcast until ARC gives a verdict (an unknown answer is
// looked up by txid and the same bytes sent again, never a second
// transaction: service/http/arc_calls.h), and only once accepted are its
// outputs handed to `on_accepted` (written to a file, imported into the
// `utxos` table). A split without a verdict leaves its funding output
// unusable until someone checks it at ARC.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/chain/fees.h"
#include "engine/chain/publication.h"

namespace raregen::service {

struct SplitPlan {
    chain::Utxo funding;        // an output of the key's P2PKH script
    std::size_t count = 0;      // outputs to make in all (>= 1)
    std::int64_t each = 100;    // satoshis per output (>= 1)
    std::size_t per_tx = 1000;  // outputs per split transaction (1..100000)
    chain::FeeRate rate{};      // fee rate of the split transactions
    int attempts = 8;           // POSTs per transaction before it is unknown
    std::string arc_url;        // no trailing slash
    std::string api_key;        // a secret; empty: no Authorization header
    long timeout_ms = 30'000;   // per ARC request
    // Set: no further ARC request once it has been true for `abort_grace`
    // (the split stops with `unknown` for the transaction in flight).
    const std::atomic<bool>* abort = nullptr;
    std::chrono::milliseconds abort_grace{0};
};

// An accepted split transaction's new outputs (display txid, outputs in vout
// order). Returns an error message, empty on success; an error stops the
// split after this transaction.
using SplitSink = std::function<std::string(const std::string& txid_display,
                                            std::span<const chain::Utxo> outputs)>;

// A split transaction signed and about to be sent: what a durable caller
// records first (the replenisher writes the bytes and marks the funding
// spent), so a crash after the send finds it by txid instead of building a
// second transaction from the same funding.
struct SignedSplit {
    std::string txid_display;
    const chain::Bytes* ef = nullptr;  // the extended-format bytes sent
    chain::Utxo funding;               // the output it spends
    std::size_t outputs = 0;           // of `each` satoshis, vouts 0..outputs-1
    std::int64_t each = 0;
    std::int64_t change = 0;  // at vout `outputs` when > 0
    std::uint64_t fee = 0;
};
// Returns an error message, empty to send it; an error stops the split
// before this transaction is sent.
using SplitRecorder = std::function<std::string(const SignedSplit&)>;

struct SplitOutcome {
    enum class Stop {
        done,             // every output made
        bad_plan,         // the transaction could not be built (error says why)
        refused,          // ARC refused a split (definite)
        unknown,          // ARC gave no verdict: the split may be on the network
        funding_ran_out,  // the funding ran out before `count` outputs
        sink_failed,      // on_accepted refused the outputs
        record_failed,    // on_signed refused the transaction (it was not sent)
    } stop = Stop::done;
    std::size_t transactions = 0;    // accepted
    std::size_t outputs = 0;         // made (and handed to on_accepted)
    std::size_t retries = 0;         // POSTs beyond the first, summed
    std::size_t lookups = 0;         // GET /v1/tx look-ups, summed
    std::vector<std::string> txids;  // accepted, display hex
    chain::Utxo change;              // the funding output to continue from (value 0: none usable)
    std::string error;               // empty when done
};

// `on_signed` (may be empty) sees each transaction before it is sent.
SplitOutcome split_funding(const chain::PublicationKey& key, const SplitPlan& plan,
                           const SplitSink& on_accepted, const SplitRecorder& on_signed = {});

}  // namespace raregen::service
