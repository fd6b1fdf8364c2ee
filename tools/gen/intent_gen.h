#pragma once
// IntentGenerator: realistic signed publish intents for tests, benchmarks and
// `raregen gen intents`, plus the registration list of their signers.
//
// Each intent is a record with every field of the RareGen schema, random but
// valid (type, assetId, a unique recordId, event, a timestamp within the
// minute before `timestamp`, one to three owners whose shares sum to 10000,
// distribution, terms, a 128-bit random nonce), signed the way clients sign:
// the record is written as JSON text in client field order, canonicalized
// with the RFC 8785 Canonicalizer, hashed with SHA-256 and signed (DER,
// low-S, RFC 6979) by one of the signer keys; `sig` is base64 and `hash` the
// digest's hex. The line carries the record as written (not canonical), so
// consumers must canonicalize to verify.
//
// Invalid intents (invalid_share of all lines, rounded to nearest, never the
// first line) sit at random positions; their kinds take turns so each kind
// gets an equal share:
//   bad_schema      a signed record breaking one schema rule (shareBps 10001,
//                   no recordId, type "podcast", timestamp without zone, no
//                   owners, a short distribution.sha256; in turn)  -> schema
//   stale           timestamp 20-60 minutes before `timestamp`     -> stale
//   replayed_nonce  an exact copy of the last valid intent         -> nonce_replay
//   bad_signature   the record was changed after signing            -> bad_signature
//   unknown_signer  signed by a key missing from the registration   -> unknown_signer
//   revoked_signer  signed by the key registered as `revoked`       -> inactive_signer
// (The right-hand side is what IntentValidator answers, judged at a `now`
// within a few minutes after `timestamp`.)
//
// Keys come from the OS CSPRNG, never from the seed, so the seed (which the
// CLI prints, to reproduce the records' content) reveals no key. The seed
// fixes everything else: fields, positions and kinds.
//
// Threads: one thread per generator. It allocates freely (a tool, not a hot
// path).

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "engine/chain/keys.h"
#include "stages/ingest/intent.h"
#include "stages/ingest/jcs.h"
#include "engine/model/wall_time.h"

namespace raregen::ingest {

enum class GeneratedKind : std::uint8_t {
    valid,
    bad_schema,
    stale,
    replayed_nonce,
    bad_signature,
    unknown_signer,
    revoked_signer,
};
constexpr std::size_t k_generated_kinds = 7;
std::string_view generated_kind_name(GeneratedKind k) noexcept;
// What IntentValidator rejects an intent of kind `k` with (k != valid).
RejectReason expected_reason(GeneratedKind k) noexcept;

struct IntentGenOptions {
    std::size_t count = 0;       // lines in total (>= 1)
    std::size_t signers = 1;     // active signer keys (>= 1)
    double invalid_share = 0.0;  // 0..1
    std::uint64_t seed = 0;
    WallTime timestamp{};  // "now" for the records; see the header comment
};

class IntentGenerator {
  public:
    // Creates the keys. Throws std::invalid_argument (naming the option) on
    // a bad option, std::runtime_error if the OS CSPRNG fails.
    explicit IntentGenerator(IntentGenOptions options);

    // The registration list (signer_registry.h format): every active signer,
    // then the revoked one. The unknown signer is deliberately missing.
    std::string registry_text() const;
    // Secret: one line per key, "PUBKEY_HEX WIF STATUS" (active, revoked,
    // unregistered), mainnet WIF. For `--signer-keys` only; never print it.
    std::string signer_keys_text() const;

    bool done() const noexcept { return m_emitted == m_options.count; }
    // Writes the next intent into `line` (cleared first; one JSON object, no
    // newline) and returns its kind. Must not be called once done().
    GeneratedKind next(std::string& line);

    std::size_t invalid_total() const noexcept { return m_invalid_total; }
    std::size_t emitted() const noexcept { return m_emitted; }
    std::size_t emitted(GeneratedKind k) const noexcept {
        return m_counts[static_cast<std::size_t>(k)];
    }
    // Compressed public keys of the active signers, in registration order.
    std::vector<std::string> active_pubkeys_hex() const;

  private:
    struct Signer {
        chain::PrivateKey key;
        chain::PublicKey pub;
        std::string pub_hex;
        std::string address;
    };
    struct Record;

    Signer make_signer();
    Record random_record(bool stale);
    std::string record_json(const Record& r) const;
    // Canonicalizes `record_json`, signs it with `signer`, appends the intent.
    void write_intent(std::string_view record_json, const Signer& signer, bool tamper,
                      std::string& line);
    std::string hex_bytes(std::size_t n);
    std::string timestamp_text(std::int64_t unix_ms, int offset_minutes) const;

    IntentGenOptions m_options;
    std::mt19937_64 m_rng;
    std::vector<Signer> m_active;
    std::vector<Signer> m_revoked;  // one, when invalid intents are asked for
    std::vector<Signer> m_unknown;  // likewise
    simdjson::dom::parser m_parser;
    Canonicalizer m_canonicalizer;
    std::string m_canonical;
    std::string m_last_valid;
    std::size_t m_invalid_total = 0;
    std::size_t m_invalid_left = 0;
    std::size_t m_invalid_emitted = 0;
    std::size_t m_emitted = 0;
    std::array<std::size_t, k_generated_kinds> m_counts{};
};

}  // namespace raregen::ingest
