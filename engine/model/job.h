#pragma once
// Job: the message that flows through the pipeline, one per accepted intent.
//
// A plain fixed-size struct (trivially copyable): channels move it by value
// and nothing in it allocates. Each stage fills its own part and leaves the
// rest alone:
//   ingest    intake_seq, job_id, record_id, record_hash, accepted_at
//   sequence  batch_no, batch_seq
//   sign      utxo, txid, raw, ef
//   gate      released_at
//   send      resigns (and txid, raw, ef again after a fee refusal)
// Later stages read what earlier ones wrote; nobody rewrites another stage's
// fields. signed_ticket is the write-behind's receipt for the tx_signed fact
// (the gate's fence waits for it to be durable); fail says why a job ended
// without a transaction on the network.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "engine/chain/hash.h"
#include "engine/chain/publication.h"
#include "engine/flow/clock.h"
#include "engine/model/fixed_string.h"

namespace raregen::model {

// The longest recordId the engine accepts (ingest refuses longer ones).
constexpr std::size_t k_max_record_id = 128;
// Room for one signed publication transaction: the RareGen payload with a
// P2PKH input and change is 299 bytes standard, 333 EF.
constexpr std::size_t k_max_tx_bytes = 400;

// A job id: 16 random bytes shown as a UUID (version 4 layout).
struct JobId {
    std::array<std::uint8_t, 16> bytes{};
    bool operator==(const JobId&) const = default;
    // 36 characters, e.g. "1b4e28ba-2fa1-4d3b-883f-0016d3cca427", into `out`.
    void format(std::array<char, 36>& out) const noexcept;
    std::string to_string() const;
    // The inverse of format(); nullopt unless exactly that shape.
    static std::optional<JobId> parse(std::string_view text) noexcept;
};

struct TxBytes {
    std::array<std::uint8_t, k_max_tx_bytes> bytes{};
    std::uint16_t size = 0;
    chain::ByteSpan span() const noexcept { return {bytes.data(), size}; }
    // False (and size 0) if `data` does not fit.
    bool assign(chain::ByteSpan data) noexcept;
};

// Why a job failed (job_failed facts). Stored as error_code in publish_jobs.
enum class FailCode : std::uint8_t {
    none,
    no_utxo,           // sign: no UTXO left and none coming (ring closed and empty)
    build_failed,      // sign: the transaction could not be built or signed
    storage_refused,   // gate: the database refused the job (another owner, a duplicate record)
    sink_refused,      // send: the sink refused the transaction for good
    network_rejected,  // send: ARC answered REJECTED or a 46x error for this transaction
    double_spend,      // send: ARC answered DOUBLE_SPEND_ATTEMPTED (the UTXO is spent elsewhere)
};
std::string_view fail_code_name(FailCode c) noexcept;

struct Job {
    // ingest
    std::uint64_t intake_seq = 0;  // 1, 2, ... in intake order; unique within a run
    JobId job_id;
    FixedString<k_max_record_id> record_id;
    chain::Hash256 record_hash{};  // SHA256(JCS(record)), internal order = as hashed
    flow::Nanos accepted_at{0};
    std::array<std::uint8_t, 33> signer{};  // compressed pubkey that signed the intent
    // sequence
    std::uint64_t batch_no = 0;   // see sequence::Sequencer::name_of for the text id
    std::uint32_t batch_seq = 0;  // 1..N within the batch, gap-free
    // sign
    chain::Utxo utxo;
    chain::Hash256 txid{};
    TxBytes raw;  // standard serialization
    TxBytes ef;   // Extended Format (what ARC is sent)
    std::uint64_t signed_ticket =
        0;  // FactSink ticket of tx_signed; 0: durable already (recovered)
    // gate
    flow::Nanos released_at{0};
    // send
    std::uint8_t resigns = 0;  // times signed again after ARC refused the fee (465)
    // any stage
    FailCode fail = FailCode::none;
};

static_assert(std::is_trivially_copyable_v<Job>, "Job must stay a plain message");

}  // namespace raregen::model
