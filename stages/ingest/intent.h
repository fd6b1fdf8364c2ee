#pragma once
// Validation of one publish intent: the body of RareGen's `POST /v1/publish`.
//
//   {"protocol": "sl-drm", "version": 1,
//    "record": {...},
//    "signer": {"pubkey": "<66 hex>", "address": "..."?},
//    "signature": {"alg": "ecdsa-secp256k1", "hash": "<64 hex>"?, "sig": "<base64 DER>"}}
//
// Checks, in the seed's order; the first failing one is THE reason:
//   1. schema     the structure below (RejectReason::schema), after the text
//                 parsed as JSON (bad_json) and fit the size limit (too_large)
//   2. age        record.timestamp no older than max_age (stale) and no
//                 further than max_future ahead of now (future)
//   3. nonce      (signer.pubkey, record.nonce) not used before (nonce_replay)
//   4. signature  over SHA256(JCS(record)) by signer.pubkey (bad_signature)
//   5. signer     registered (unknown_signer) and active (inactive_signer)
// and then the nonce is recorded (capacity if the store has no room).
// So an intent that is stale AND badly signed is rejected as stale, one with
// a replayed nonce and a bad signature as nonce_replay.
//
// Why the nonce is recorded last: checking it (step 3) is read-only. Were it
// recorded there, anyone could send a forged intent naming a legitimate
// client's pubkey and its next nonce, and the client's real intent would then
// be refused as a replay. Only an intent that passed every check burns its
// nonce.
//
// Schema (what is required, and the decisions where the seed is silent):
//   * protocol == "sl-drm"; version is the number 1.
//   * record: an object with
//       type        "music" | "movie" | "book" | "document"
//       assetId     non-empty string
//       recordId    non-empty string of at most model::k_max_record_id bytes
//       event       "REGISTER" | "UPDATE" | "ASSIGN" | "SPLIT_CHANGE"
//       timestamp   ISO 8601 date-time WITH a zone: YYYY-MM-DDTHH:MM:SS, an
//                   optional fraction (any number of digits; nanoseconds kept),
//                   then Z or +HH:MM / -HH:MM / +HHMM. 'T'/'t' and 'Z'/'z'.
//                   No zone is refused: it is local time to JavaScript and
//                   so ambiguous. Seconds 0..59 (no leap second, like Date).
//       owners      non-empty array of {partyId: non-empty string, role:
//                   non-empty string, shareBps: integer 0..10000}. A number
//                   with a zero fraction (6000.0) counts as an integer, as in
//                   JavaScript. Shares need NOT sum to 10000: the seed's rule
//                   is unknown, and refusing what it may have accepted would
//                   break clients; each share is range-checked.
//       distribution object; cdnUrl, contentType: strings if present;
//                   sha256: 64 hex digits if present
//       terms       object; territory: non-empty string; rights: non-empty
//                   array of non-empty strings; mechanical: optional, any JSON
//                   value (it is signed as sent)
//       nonce       non-empty string
//     Other record members are allowed and are part of what is signed.
//     An optional member that is null counts as absent.
//   * signer: object; pubkey: 66 hex digits, compressed (02/03 prefix);
//     address: optional string, informational only (not signed, not checked
//     against the pubkey: the signature already binds the pubkey).
//   * signature: object;
//       alg   "ecdsa", "ecdsa-secp256k1", "bsv-ecdsa-secp256k1", "ES256K" or
//             "secp256k1", any case (the first and third are what the old
//             service's clients and README send). All mean the same: ECDSA
//             over secp256k1, DER signature, SHA-256 digest. Another label is
//             a schema error that lists these.
//       sig   base64 (standard or URL-safe, padding optional; base64.h) of a
//             DER signature, at most 72 bytes. High-S is accepted (it is
//             normalized before verifying, as the seed's clients expect).
//       hash  optional. Either the digest itself (64 hex, either case), which
//             must then equal SHA256(JCS(record)) - a mismatch is a
//             bad_signature on signature.hash, checked in step 4 - or the
//             name of the hash algorithm ("sha256" / "sha-256", any case).
//             Anything else is a schema error.
//   * Unknown members elsewhere are ignored. A known member given twice
//     (anywhere) is a schema error, as is any duplicate key in the record:
//     with duplicates, parsers disagree on which value was signed.
//
// The record hash: SHA-256 of the RFC 8785 canonical form of `record`
// (jcs.h); its hex is the `hash` returned to the client, and the bytes are
// model::Job::record_hash. One exception, for the old service's clients: a
// record with array-index keys ("2024", "10") has a second form, the old
// service's (KeyOrder::javascript: those keys first, in numeric order). If
// signature.hash names that form's digest, or the signature verifies over it
// and not over RFC 8785's, the intent is accepted with that form: its text is
// the canonical_record stored, its hash the record hash published (the one
// the client signed and will look for), and canonical_form says so.
//
// Threads: an IntentValidator is used by one thread at a time (it owns a
// parser and scratch buffers). The NonceStore and SignerRegistry it is given
// must outlive it.
// Memory: the constructor sizes everything for intents of up to
// max_intent_bytes; validate() then allocates nothing (the canonical-record
// buffer may grow once if a record's canonical form is more than twice its
// text, e.g. many `1e20` numbers; it keeps that capacity).

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/chain/hash.h"
#include "engine/model/fixed_string.h"
#include "engine/model/job.h"
#include "engine/model/nonce_store.h"
#include "engine/model/signer_registry.h"
#include "engine/model/wall_time.h"
#include "stages/ingest/jcs.h"

namespace raregen::ingest {

enum class RejectReason : std::uint8_t {
    bad_json,         // not JSON (or nested deeper than the parser allows)
    too_large,        // over the size limit (max_intent_bytes / --max-line)
    schema,           // JSON, but not a well-formed intent (see the schema above)
    stale,            // record.timestamp older than max_age
    future,           // record.timestamp more than max_future ahead
    nonce_replay,     // this signer already used this nonce
    bad_signature,    // the signature (or signature.hash) does not match
    unknown_signer,   // signer.pubkey is not registered
    inactive_signer,  // signer.pubkey is registered but revoked
    capacity,         // the nonce store is full of live nonces (server side; retry later)
};
constexpr std::size_t k_reject_reasons = 10;
// Stable snake_case names for logs and metrics ("nonce_replay").
std::string_view reject_reason_name(RejectReason r) noexcept;

// Text in a fixed inline buffer, truncated (never overflowing) when too long.
template <std::size_t N>
class FixedText {
  public:
    void clear() noexcept { m_size = 0; }
    FixedText& append(std::string_view s) noexcept {
        const std::size_t n = std::min(s.size(), N - m_size);
        for (std::size_t i = 0; i < n; ++i)
            m_data[m_size + i] = s[i];
        m_size += n;
        return *this;
    }
    FixedText& append_uint(std::uint64_t v) noexcept {
        char digits[20];
        std::size_t n = 0;
        do {
            digits[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (n != 0 && m_size < N)
            m_data[m_size++] = digits[--n];
        return *this;
    }
    std::string_view view() const noexcept { return {m_data.data(), m_size}; }
    bool empty() const noexcept { return m_size == 0; }

  private:
    std::array<char, N> m_data{};
    std::size_t m_size = 0;
};

struct ValidatorOptions {
    // The seed refuses records older than 10 minutes.
    std::chrono::nanoseconds max_age = std::chrono::minutes(10);
    // Not in the seed: a record dated further ahead than this is refused, so
    // a client with a fast clock (or a pre-signed intent) cannot stretch how
    // long an intent stays replayable, and the nonce store's retention
    // (max_age + max_future) stays bounded.
    std::chrono::nanoseconds max_future = std::chrono::minutes(5);
    // Largest intent text validate() takes; the parser is sized for it.
    std::size_t max_intent_bytes = 64 * 1024;
    // Deepest JSON nesting accepted (deeper is bad_json).
    std::size_t max_depth = 64;
};

// The outcome of one validate() call. Owned by the validator and overwritten
// by the next call; the views in it point into the validator.
struct IntentVerdict {
    bool accepted = false;

    // --- when rejected ---
    RejectReason reason = RejectReason::schema;
    FixedText<96> field;     // "record.owners[1].shareBps"; empty if about the whole intent
    FixedText<256> message;  // what is wrong and what to do

    // --- when known (record.recordId read as a valid string), accepted or not ---
    bool record_id_known = false;
    model::FixedString<model::k_max_record_id> record_id;

    // --- when rejected stale or nonce_replay but correctly signed:
    // record_hash holds the signed record's hash (a client's retry of an
    // intent already accepted is found by it)
    bool record_hash_known = false;

    // --- when accepted ---
    chain::Hash256 record_hash{};       // SHA-256 of canonical_record
    std::string_view canonical_record;  // the form signed; valid until the next validate()
    model::CanonicalForm canonical_form = model::CanonicalForm::rfc8785;
    std::array<std::uint8_t, 33> pubkey{};
    WallTime timestamp{};  // record.timestamp

    // Writes the ingest fields this verdict owns (record_id, record_hash)
    // into `job`. The caller sets intake_seq, job_id and accepted_at.
    void fill_job(model::Job& job) const noexcept;
    // Lowercase hex of record_hash into `out` (64 chars).
    void record_hash_hex(std::array<char, 64>& out) const noexcept;
};

class IntentValidator {
  public:
    // Throws std::invalid_argument (start-up) on a bad option, std::bad_alloc
    // if the parser cannot be sized.
    IntentValidator(NonceStore& nonces, const SignerRegistry& signers,
                    ValidatorOptions options = {});

    IntentValidator(const IntentValidator&) = delete;
    IntentValidator& operator=(const IntentValidator&) = delete;

    // Validates one intent given as JSON text (copied into a padded buffer;
    // need not be padded or NUL-terminated). `now` is the wall time to judge
    // the timestamp by and to record the nonce at. On acceptance the nonce is
    // recorded in the store. Never throws.
    const IntentVerdict& validate(std::string_view text, WallTime now) noexcept;

    const ValidatorOptions& options() const noexcept { return m_options; }

  private:
    bool reject(RejectReason reason) noexcept;
    bool check_schema(simdjson::dom::element root) noexcept;
    bool check_record(simdjson::dom::object record) noexcept;
    bool check_age(WallTime now) noexcept;
    bool check_signature() noexcept;

    NonceStore& m_nonces;
    const SignerRegistry& m_signers;
    ValidatorOptions m_options;
    simdjson::dom::parser m_parser;
    // Owned and sized up front: the parser's own document would grow to the
    // largest intent seen so far, i.e. allocate in steady state.
    simdjson::dom::document m_doc;
    Canonicalizer m_canonicalizer;
    std::unique_ptr<char[]> m_input;  // input copy, max_intent_bytes + SIMDJSON_PADDING
    std::string m_canonical;          // JCS(record)
    std::string m_canonical_js;       // the old service's form, when it differs
    IntentVerdict m_verdict;

    // Pieces of the current intent found by the schema check (views into the
    // parser's document; valid until the next parse).
    struct Current {
        std::string_view nonce;
        std::string_view sig_b64;
        std::string_view hash_field;       // empty or a 64-hex digest to compare
        bool has_javascript_form = false;  // m_canonical_js holds a different text
        std::int64_t ts_seconds = 0;       // record.timestamp as Unix seconds
        std::int32_t ts_nanos = 0;
    } m_cur;
};

// ---- pieces exposed for tests and tools ----

// A parsed ISO 8601 date-time: Unix seconds (years 0000..9999 fit) and the
// nanoseconds within the second.
struct IsoTime {
    std::int64_t seconds = 0;
    std::int32_t nanos = 0;
};
// Parses the timestamp format described above. False if malformed or out of
// range (month 13, Feb 30, hour 24, offset over 23:59, ...).
[[nodiscard]] bool parse_iso8601(std::string_view text, IsoTime& out) noexcept;

// The signature.alg labels accepted (compared ignoring case).
inline constexpr std::array<std::string_view, 5> k_signature_algs = {
    "ecdsa", "ecdsa-secp256k1", "bsv-ecdsa-secp256k1", "es256k", "secp256k1"};
// True if `alg` names ECDSA over secp256k1 as accepted above.
[[nodiscard]] bool accepted_signature_alg(std::string_view alg) noexcept;

}  // namespace raregen::ingest
