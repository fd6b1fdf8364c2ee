#pragma once
// The `registered_keys` table: loading it into ingest's signer registry at
// start-up, and the administration behind `raregen keys register|revoke|list`.
//
// Table (the RareGen service's, docs/protocol.md §6; created by pg::migrate):
//   registered_keys (pubkey_hex text unique, status text, policy_json jsonb, ...)
// status 'active' may publish; every other value, NULL included, is inactive
// (the old service wrote 'active' and 'revoked'; revoke_signer writes
// 'revoked'). Keys are written as lowercase hex; rows the old service may have
// written in uppercase are matched case-insensitively, so an operator never
// ends up with two rows for one key.
//
// Threads: every function takes a Connection, which one thread uses at a time
// (libpq's rule). Each blocks for one or more round trips and allocates:
// start-up and command-line tools only, never a stage's hot path. None may be
// called inside a transaction already open on the connection (they open their
// own). None throws for an expected failure: results carry a pg::Status.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/signer_registry.h"
#include "storage/pg/connection.h"

namespace raregen::keys {

// Parses a compressed secp256k1 public key: 66 hex digits (either case), 02 or
// 03 first, and a point on the curve. On failure returns nullopt and, if
// `why` is given, sets it to what is wrong (echoing at most 70 characters of
// the input; a public key is no secret).
std::optional<ingest::CompressedPubkey> parse_compressed_pubkey(std::string_view hex,
                                                                std::string* why = nullptr);

// ---- start-up loading ----

// How many descriptions of skipped rows a load keeps (the counts are exact).
inline constexpr std::size_t k_max_reported_problems = 10;

struct SignerLoad {
    std::size_t loaded = 0;      // keys added to the registry (= active + inactive)
    std::size_t active = 0;      // of those, status 'active'
    std::size_t inactive = 0;    // of those, any other status
    std::size_t invalid = 0;     // rows skipped: pubkey_hex is not a valid compressed key
    std::size_t duplicates = 0;  // rows skipped: same key as another row (hex case differs)
    // What was wrong with the first k_max_reported_problems skipped rows.
    std::vector<std::string> problems;
    // Empty on success; else what failed (the query) and what to do. Then
    // nothing was added to the registry.
    std::string error;
    bool ok() const { return error.empty(); }
};

// Reads every row of registered_keys into `registry` (normally a fresh one).
// A row whose pubkey_hex is not a valid compressed key is skipped and counted,
// not fatal: the engine can still serve every other signer, and the operator
// sees the count and the reasons. When one key appears in two rows (hex case
// differs) an inactive row wins over an active one. A key `registry` already
// holds keeps its status and counts as a duplicate.
SignerLoad load_signers(pg::Connection& conn, ingest::InMemorySignerRegistry& registry);

// ---- administration ----

enum class RegisterOutcome : std::uint8_t {
    registered,      // the key was unknown; a new active row
    reactivated,     // the key was registered but inactive; now active
    already_active,  // nothing changed but the policy, if one was given
};
std::string_view register_outcome_name(RegisterOutcome o) noexcept;

struct RegisterResult {
    pg::Status status;
    RegisterOutcome outcome = RegisterOutcome::registered;  // meaningful when status.ok()
    bool ok() const { return status.ok(); }
};

// Makes `pubkey` an active signer: inserts it, or sets an existing row's
// status to 'active'. `policy_json`, if given, must be valid JSON and replaces
// the stored policy; if not given a stored policy is kept. One transaction.
// A running engine sees the change at its next start (it loads the table once).
RegisterResult register_signer(pg::Connection& conn, const ingest::CompressedPubkey& pubkey,
                               std::optional<std::string_view> policy_json = std::nullopt);

enum class RevokeOutcome : std::uint8_t {
    revoked,          // was active (or had another status); now 'revoked'
    already_revoked,  // status was 'revoked' already; nothing changed
    not_registered,   // no row for the key: the result is a failure
};
std::string_view revoke_outcome_name(RevokeOutcome o) noexcept;

struct RevokeResult {
    pg::Status status;  // failure for not_registered too (the user's to fix)
    RevokeOutcome outcome = RevokeOutcome::revoked;
    bool ok() const { return status.ok(); }
};

// Sets the key's status to 'revoked' (the row stays, so the key is known and
// refused rather than unknown). Fails, with outcome not_registered and a
// message saying so, if the key has no row.
RevokeResult revoke_signer(pg::Connection& conn, const ingest::CompressedPubkey& pubkey);

struct SignerRow {
    std::string pubkey_hex;                  // as stored (the old service's case kept)
    std::optional<std::string> status;       // nullopt: SQL NULL (inactive)
    std::optional<std::string> policy_json;  // the jsonb as text; nullopt: SQL NULL
    bool active() const { return status && *status == "active"; }
};

struct SignerList {
    pg::Status status;
    std::vector<SignerRow> signers;  // ordered by pubkey_hex
    bool ok() const { return status.ok(); }
};

// Every row of registered_keys, invalid keys included (as stored).
SignerList list_signers(pg::Connection& conn);

// Registers the keys of a signer file (lines "PUBKEY_HEX [active|revoked]",
// '#' comments; what `raregen gen intents --registered` writes): active keys
// are registered, any other status is registered then revoked, as in the
// file. Returns an error message ("PATH:LINE: why"), empty on success.
std::string register_signer_file(pg::Connection& conn, const std::string& path);

}  // namespace raregen::keys
