#pragma once
// The local network's insides (tools/network/arc_network.h is the contract),
// shared by the files that implement it, one role each:
//   arc_network.cpp   the server: routes, submission (parents, double
//                     spends, the UTXO set), mining, funding, admin, faults
//   ledger.cpp        the transaction records it keeps and how ARC states
//                     them (status objects, callbacks)
//   answers.cpp       request bodies in (binary, JSON, text; one or many
//                     transactions) and ARC's error objects out
//   tx_rules.cpp      the stateless transaction rules: structure, scripts,
//                     amounts and fee, with ARC's codes
// Private: only those files include it.

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/fees.h"
#include "engine/chain/hash.h"
#include "engine/chain/tx.h"
#include "tools/network/callbacks.h"

namespace raregen::network::detail {

using Json = nlohmann::ordered_json;
using chain::Bytes;
using chain::ByteSpan;
using chain::Hash256;
using chain::OutPoint;
using chain::Transaction;
using chain::TxOut;

using raregen::chain::k_max_money;
constexpr std::size_t k_min_tx_size = 61;             // ARC refuses smaller transactions
constexpr std::uint64_t k_max_tx_size = 10'000'000;   // node policy default
constexpr std::uint64_t k_max_script_size = 500'000;  // as ARC's policy example
constexpr std::uint64_t k_max_fund_outputs = 100'000;
constexpr const char* k_version = "raregen-local-arc 0.1.0";
// Rejection codes counted in stats (fixed so the counters never rehash).
constexpr int k_rejection_codes[] = {400, 460, 461, 462, 463, 464, 465, 474};

struct HashKey {
    std::size_t operator()(const Hash256& h) const {
        std::size_t v = 0;
        std::memcpy(&v, h.data(), sizeof v);  // txids are uniformly distributed
        return v;
    }
};
struct OutPointKey {
    std::size_t operator()(const OutPoint& o) const {
        return HashKey{}(o.txid) ^ (std::size_t{o.vout} * 0x9e3779b97f4a7c15ULL);
    }
};

enum class TxStatus : std::uint8_t {
    queued,
    received,
    stored,
    seen_on_network,
    double_spend_attempted,
    rejected,
    mined,
};

struct TxRecord {
    std::string txid;  // display hex
    TxStatus status = TxStatus::seen_on_network;
    std::uint64_t block_height = 0;
    std::string block_hash;
    Bytes raw;  // standard serialization
    std::string callback_url;
    std::string callback_token;
    bool callback_batch = false;
    bool full_status = false;
    bool funding = false;
    std::string timestamp;
    // When it was accepted (ms since the epoch): what perf/ reads to find the
    // most transactions accepted in any window of the rate gate's period.
    std::int64_t accepted_ms = 0;
    // The losing side of a double spend is kept, as ARC keeps it: status
    // DOUBLE_SPEND_ATTEMPTED, the winners, and why; it spends nothing.
    std::vector<std::string> competing;
    std::string extra_info;
};

struct Counter {
    std::atomic<std::uint64_t> value{0};
    void add(std::uint64_t n = 1) { value.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t get() const { return value.load(std::memory_order_relaxed); }
};

// A whole-request outcome: transactions, or one error object.
struct Body {
    std::vector<Bytes> txs;
    int error = 0;
    std::string detail;
};

// One transaction of a request on its way through validation.
struct Candidate {
    Transaction tx;
    Hash256 txid{};
    std::string txid_hex;
    std::size_t size = 0;  // standard serialization
    int error = 0;         // ARC code, 0 while valid
    std::string detail;
    Json answer;            // the entry or response for this transaction
    bool accepted = false;  // newly stored by this request
};

// ---- ledger.cpp ----

const char* status_name(TxStatus s);

Json status_object(const TxRecord& r, TxStatus shown, const std::string& extra,
                   const std::vector<std::string>& competing);

// A known transaction's answer to GET /v1/tx or a resubmission.
Json stored_answer(const TxRecord& r);

Json callback_entry(const TxRecord& r);

// Callbacks for a set of records: one POST per record, except records whose
// submitter asked for X-CallbackBatch, grouped by (url, token).
void queue_callbacks(CallbackSender& sender, const std::vector<TxRecord>& records);

// ---- answers.cpp ----

const char* error_title(int status);

std::string now_iso();

Json error_object(int status, const std::string& detail, const std::string& txid);

std::string dump(const Json& j);

void send_json(httplib::Response& res, int status, const Json& body);

std::string lower(std::string_view s);

std::string_view trim(std::string_view s);

bool header_true(const httplib::Request& req, const char* name);

Body body_error(int status, std::string detail);

bool add_hex(Body& b, std::string_view hex, std::size_t index);

Body decode_body(const httplib::Request& req, bool many);

// ---- tx_rules.cpp ----

std::string describe(const OutPoint& o);

// Structure checks that need no state: sizes, counts, duplicate inputs.
void check_structure(Candidate& c);

// Signatures, outputs and fee: the lock-free part of validation.
void check_scripts_and_amounts(Candidate& c, const chain::FeeRate& fee_rate);

}  // namespace raregen::network::detail
