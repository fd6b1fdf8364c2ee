#include "storage/keys/signers.h"

#include <secp256k1.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/chain/bytes.h"
#include "engine/chain/ecdsa.h"

namespace raregen::keys {

namespace {

constexpr const char* k_active = "active";
constexpr const char* k_revoked = "revoked";

std::string shorten(std::string_view s) {
    // Long enough for a whole public key; longer junk is cut.
    return s.size() <= 70 ? std::string(s) : std::string(s.substr(0, 67)) + "...";
}

std::string lower_hex(const ingest::CompressedPubkey& key) {
    return chain::to_hex(chain::ByteSpan(key.data(), key.size()));
}

void note_problem(std::vector<std::string>& problems, std::string text) {
    if (problems.size() < k_max_reported_problems) problems.push_back(std::move(text));
}

// Rows of one key, locked until the transaction ends (FOR UPDATE), so two
// concurrent register/revoke calls on one key serialize.
constexpr const char* k_select_key_for_update =
    "SELECT status FROM registered_keys WHERE lower(pubkey_hex) = $1 FOR UPDATE";

}  // namespace

std::optional<ingest::CompressedPubkey> parse_compressed_pubkey(std::string_view hex,
                                                                std::string* why) {
    const auto fail = [&](std::string text) {
        if (why != nullptr) *why = std::move(text);
        return std::nullopt;
    };
    if (hex.size() != 66) {
        return fail("public key '" + shorten(hex) + "' has " + std::to_string(hex.size()) +
                    " characters; expected a compressed key of 66 hex digits (02/03 + 64)");
    }
    const auto key = chain::from_hex_fixed<33>(hex);
    if (!key) return fail("public key '" + shorten(hex) + "' is not hex");
    if ((*key)[0] != 0x02 && (*key)[0] != 0x03) {
        return fail("public key '" + shorten(hex) +
                    "' does not start with 02 or 03; only compressed keys sign intents");
    }
    // A well-formed string can still name no point: no signature could ever
    // verify against it, so it is as useless as a typo and reported as one.
    secp256k1_pubkey point;
    if (secp256k1_ec_pubkey_parse(chain::Secp256k1::for_this_thread().raw(), &point, key->data(),
                                  key->size()) != 1) {
        return fail("public key '" + shorten(hex) +
                    "' is not a point on secp256k1; check that it was copied whole");
    }
    return key;
}

SignerLoad load_signers(pg::Connection& conn, ingest::InMemorySignerRegistry& registry) {
    SignerLoad out;
    // Inactive rows first: if one key has two rows, the inactive one is added
    // and the active one refused as a duplicate (fail closed).
    pg::Result r = conn.exec(
        "SELECT pubkey_hex, status FROM registered_keys "
        "ORDER BY (status IS NOT DISTINCT FROM 'active'), pubkey_hex");
    if (!r.ok()) {
        out.error = "cannot read the signer registry (table registered_keys): " + r.error() +
                    "; check the database is reachable and migrated";
        return out;
    }
    std::string why;
    for (int row = 0; row < r.rows(); ++row) {
        if (r.is_null(row, 0)) {
            ++out.invalid;
            note_problem(out.problems,
                         "registered_keys: skipped a row whose pubkey_hex is NULL; delete it");
            continue;
        }
        const std::string_view hex = r.text(row, 0);
        const auto key = parse_compressed_pubkey(hex, &why);
        if (!key) {
            ++out.invalid;
            note_problem(out.problems,
                         "registered_keys: skipped a row: " + why + "; correct or delete the row");
            continue;
        }
        const bool active = !r.is_null(row, 1) && r.text(row, 1) == k_active;
        if (!registry.add(*key,
                          active ? ingest::SignerStatus::active : ingest::SignerStatus::inactive)) {
            ++out.duplicates;
            note_problem(out.problems, "registered_keys: skipped pubkey_hex '" + shorten(hex) +
                                           "': the same key as another row (hex case "
                                           "differs); keeping the other row's status (" +
                                           std::string(signer_status_name(registry.lookup(*key))) +
                                           "); delete one of the two rows");
            continue;
        }
        ++out.loaded;
        ++(active ? out.active : out.inactive);
    }
    return out;
}

std::string_view register_outcome_name(RegisterOutcome o) noexcept {
    switch (o) {
        case RegisterOutcome::registered:
            return "registered";
        case RegisterOutcome::reactivated:
            return "reactivated";
        case RegisterOutcome::already_active:
            return "already_active";
    }
    return "registered";
}

std::string_view revoke_outcome_name(RevokeOutcome o) noexcept {
    switch (o) {
        case RevokeOutcome::revoked:
            return "revoked";
        case RevokeOutcome::already_revoked:
            return "already_revoked";
        case RevokeOutcome::not_registered:
            return "not_registered";
    }
    return "revoked";
}

RegisterResult register_signer(pg::Connection& conn, const ingest::CompressedPubkey& pubkey,
                               std::optional<std::string_view> policy_json) {
    const std::string hex = lower_hex(pubkey);
    RegisterResult out;
    // Two engines starting together may insert the same key at once: the
    // loser's INSERT fails on the unique key (23505); the retry finds the
    // winner's row and updates it instead.
    for (int attempt = 0; attempt < 3; ++attempt) {
        out.status = conn.transaction([&](pg::Connection& c) -> pg::Status {
            pg::Result existing = c.exec_params(k_select_key_for_update, hex);
            if (!existing.ok()) return existing.status();
            const auto policy_error = [](const pg::Result& res) {
                // 22P02: invalid_text_representation, what a malformed jsonb raises.
                if (res.sqlstate() == "22P02") {
                    return pg::Status::failure(
                        "the policy is not valid JSON: " + res.error() + "; pass a JSON value",
                        std::string(res.sqlstate()));
                }
                return res.status();
            };
            if (existing.rows() == 0) {
                pg::Result ins = c.exec_params(
                    "INSERT INTO registered_keys (pubkey_hex, status, policy_json) "
                    "VALUES ($1, 'active', $2::jsonb)",
                    hex, policy_json);
                if (!ins.ok()) {
                    if (ins.sqlstate() == "23505") {
                        return pg::Status::failure(
                            "public key " + hex +
                                " was registered by someone else at the same moment; run the "
                                "command again",
                            "23505");
                    }
                    return policy_error(ins);
                }
                out.outcome = RegisterOutcome::registered;
                return pg::Status::success();
            }
            bool all_active = true;
            for (int row = 0; row < existing.rows(); ++row) {
                if (existing.is_null(row, 0) || existing.text(row, 0) != k_active)
                    all_active = false;
            }
            out.outcome =
                all_active ? RegisterOutcome::already_active : RegisterOutcome::reactivated;
            if (all_active && !policy_json) return pg::Status::success();
            pg::Result upd = c.exec_params(
                "UPDATE registered_keys SET status = 'active', "
                "policy_json = COALESCE($2::jsonb, policy_json) WHERE lower(pubkey_hex) = $1",
                hex, policy_json);
            return upd.ok() ? pg::Status::success() : policy_error(upd);
        });
        if (out.status.ok() || out.status.sqlstate() != "23505") break;
    }
    return out;
}

RevokeResult revoke_signer(pg::Connection& conn, const ingest::CompressedPubkey& pubkey) {
    const std::string hex = lower_hex(pubkey);
    RevokeResult out;
    out.status = conn.transaction([&](pg::Connection& c) -> pg::Status {
        pg::Result existing = c.exec_params(k_select_key_for_update, hex);
        if (!existing.ok()) return existing.status();
        if (existing.rows() == 0) {
            out.outcome = RevokeOutcome::not_registered;
            return pg::Status::failure("public key " + hex +
                                       " is not registered, so there is nothing to revoke; "
                                       "check the key (`raregen keys list` shows them all)");
        }
        bool all_revoked = true;
        for (int row = 0; row < existing.rows(); ++row) {
            if (existing.is_null(row, 0) || existing.text(row, 0) != k_revoked) all_revoked = false;
        }
        if (all_revoked) {
            out.outcome = RevokeOutcome::already_revoked;
            return pg::Status::success();
        }
        pg::Result upd = c.exec_params(
            "UPDATE registered_keys SET status = 'revoked' WHERE lower(pubkey_hex) = $1", hex);
        if (!upd.ok()) return upd.status();
        out.outcome = RevokeOutcome::revoked;
        return pg::Status::success();
    });
    return out;
}

SignerList list_signers(pg::Connection& conn) {
    SignerList out;
    pg::Result r = conn.exec(
        "SELECT pubkey_hex, status, policy_json::text FROM registered_keys ORDER BY pubkey_hex");
    if (!r.ok()) {
        out.status = pg::Status::failure(
            "cannot read the signer registry (table registered_keys): " + r.error(),
            std::string(r.sqlstate()));
        return out;
    }
    out.signers.reserve(static_cast<std::size_t>(r.rows()));
    for (int row = 0; row < r.rows(); ++row) {
        SignerRow s;
        s.pubkey_hex = std::string(r.text(row, 0));
        if (!r.is_null(row, 1)) s.status = std::string(r.text(row, 1));
        if (!r.is_null(row, 2)) s.policy_json = std::string(r.text(row, 2));
        out.signers.push_back(std::move(s));
    }
    return out;
}

std::string register_signer_file(pg::Connection& conn, const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return path + ": " + std::strerror(errno);
    char line[1024];
    int n = 0;
    std::string error;
    while (error.empty() && std::fgets(line, sizeof line, f) != nullptr) {
        ++n;
        char key[200] = {}, status[32] = {};
        const int got = std::sscanf(line, "%199s %31s", key, status);
        if (got < 1 || key[0] == '#') continue;
        std::string why;
        const auto pub = parse_compressed_pubkey(key, &why);
        if (!pub) {
            error = path + ":" + std::to_string(n) + ": " + why;
            break;
        }
        if (got == 2 && std::string(status) != "active") {
            // Known but inactive, as in the file: a key the table does not
            // have yet is registered, then revoked.
            RevokeResult r = revoke_signer(conn, *pub);
            if (!r.ok() && r.outcome == RevokeOutcome::not_registered) {
                const RegisterResult reg = register_signer(conn, *pub);
                if (!reg.ok()) {
                    error = reg.status.message();
                    break;
                }
                r = revoke_signer(conn, *pub);
            }
            if (!r.ok()) error = r.status.message();
            continue;
        }
        const RegisterResult r = register_signer(conn, *pub);
        if (!r.ok()) error = r.status.message();
    }
    std::fclose(f);
    return error;
}

}  // namespace raregen::keys
