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
// P2PKH input and change is 299 bytes standard, 339 EF (the input's
// previous value and locking script added).
constexpr std::size_t k_max_tx_bytes = 400;

// A job id. raregen makes UUIDs: 16 random bytes in the version 4 layout,
// written "1b4e28ba-2fa1-4d3b-883f-0016d3cca427". Ids another writer of
// publish_jobs made (the old RareGen service's "job_<ms>_<rand>") are kept
// as the text they are, so that the row they name is found again.
struct JobId {
    static constexpr std::size_t k_max_text = 64;
    // The UUID's bytes; for a text id, the first 16 bytes of SHA-256 of the
    // text (a key for maps: equal ids have equal bytes).
    std::array<std::uint8_t, 16> bytes{};
    FixedString<k_max_text> text_id;  // empty for a UUID

    bool operator==(const JobId& o) const noexcept {
        return bytes == o.bytes && text_id.view() == o.text_id.view();
    }
    bool is_uuid() const noexcept { return text_id.empty(); }
    // The id as stored in publish_jobs.job_id, into `out` (a view of it).
    std::string_view text(std::array<char, k_max_text>& out) const noexcept;
    std::string to_string() const;
    // A UUID in the canonical lowercase form format() writes, as a UUID;
    // nullopt unless exactly that shape (any case).
    static std::optional<JobId> parse(std::string_view text) noexcept;
    // Any id found in publish_jobs.job_id: a lowercase UUID as a UUID, any
    // other non-empty text of at most k_max_text bytes as a text id; nullopt
    // if empty or longer.
    static std::optional<JobId> from_stored(std::string_view text) noexcept;
};

// Which canonical text of the record was signed and hashed (see
// stages/ingest/intent.h): RFC 8785, or the old RareGen service's
// JavaScript key order (differs only for records with array-index keys).
enum class CanonicalForm : std::uint8_t { rfc8785, javascript };
std::string_view canonical_form_name(CanonicalForm f) noexcept;

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
    fee_ceiling,       // sign: the UTXO is worth more than a publication may pay as fee
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
    CanonicalForm canonical_form = CanonicalForm::rfc8785;
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
