// libFuzzer target for the ingest parsers (style.md: a fuzzer for every
// parser): the signer registry file (InMemorySignerRegistry::parse) and the
// publish intent (IntentValidator::validate: simdjson, the schema, ISO 8601,
// JCS, base64, DER, ECDSA verify, nonce store). Inputs are split as
// fuzz_input.h says: `REGISTRY \0 INTENT`.
//
// Beyond "no crash, no sanitizer report", each input is checked against what
// the headers promise; a failed check calls abort() so libFuzzer keeps the
// input as a crash:
// - registry: parsed iff no error; what it accepted matches the format read
//   independently here (every listed key found with its status, counts
//   agree); an error names the source and a line;
// - intent, rejected: a reason in range with a message, and validating the
//   same text again gives the same answer (a rejection burns no nonce);
// - intent, accepted: signed by a registered active key, dated within
//   [now - max_age, now + max_future], record_hash = SHA-256 of the
//   canonical record, that canonical form is a JCS fixpoint, and the same
//   text again is refused as nonce_replay.
//
// Run by ctest as fuzz.intent (see CMakeLists.txt), or by hand:
//   raregen_ingest_fuzz_seeds CORPUS_DIR
//   raregen_ingest_fuzz CORPUS_DIR -dict=intent.dict -max_total_time=120
#include <simdjson.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "engine/chain/bytes.h"
#include "engine/chain/hash.h"
#include "engine/model/nonce_store.h"
#include "engine/model/signer_registry.h"
#include "stages/ingest/intent.h"
#include "stages/ingest/jcs.h"
#include "tests/stages/ingest/fuzz/fuzz_input.h"

namespace {

using namespace raregen;
using namespace raregen::ingest;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "intent_fuzz: check failed: %s\n", what);
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok) fail(what);
}

// ---- registry -----------------------------------------------------------

bool blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

std::string_view next_field(std::string_view& line) {
    while (!line.empty() && blank(line.front()))
        line.remove_prefix(1);
    std::size_t n = 0;
    while (n < line.size() && !blank(line[n]))
        ++n;
    const std::string_view f = line.substr(0, n);
    line.remove_prefix(n);
    return f;
}

// Reads an accepted registry text line by line (the format in
// signer_registry.h) and checks the registry holds exactly those keys.
void check_registry(std::string_view text, const InMemorySignerRegistry::Loaded& loaded) {
    if (!loaded) {
        check(loaded.error.rfind("fuzz:", 0) == 0, "a registry error names its source");
        check(loaded.error.size() > 6, "a registry error says what is wrong");
        return;
    }
    check(loaded.error.empty(), "no error text when the registry parsed");
    const InMemorySignerRegistry& reg = *loaded.registry;
    std::size_t keys = 0, active = 0;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        line = line.substr(0, line.find('#'));
        const std::string_view key_hex = next_field(line);
        if (key_hex.empty()) continue;
        const std::string_view status = next_field(line);
        check(next_field(line).empty(), "accepted a line with a third field");
        const auto key = chain::from_hex_fixed<33>(key_hex);
        check(key.has_value(), "accepted a key that is not 66 hex digits");
        check((*key)[0] == 0x02 || (*key)[0] == 0x03, "accepted a key without 02/03");
        const bool is_active = status.empty() || status == "active";
        check(is_active || status == "revoked" || status == "inactive",
              "accepted an unknown status");
        check(reg.lookup(*key) == (is_active ? SignerStatus::active : SignerStatus::inactive),
              "a listed key is found with its status");
        ++keys;
        active += is_active ? 1 : 0;
    }
    check(reg.size() == keys, "registry size = keys listed");
    check(reg.active_count() == active, "active_count = active keys listed");
}

// ---- intent -------------------------------------------------------------

// The validator is built once (it sizes a 64 KiB parser); the registry and
// the nonce store it reads are swapped per input behind these two, so every
// input starts from the same state and a reproducer replays alone.
class SwappableSigners final : public SignerRegistry {
  public:
    const SignerRegistry* current = nullptr;
    SignerStatus lookup(std::span<const std::uint8_t> pubkey) const noexcept override {
        return current->lookup(pubkey);
    }
};

class FreshNonces final : public NonceStore {
  public:
    void reset() { m_store.emplace(64, std::chrono::minutes(15)); }
    bool check(std::span<const std::uint8_t> pubkey, std::string_view nonce,
               WallTime now) noexcept override {
        return m_store->check(pubkey, nonce, now);
    }
    NonceRecord record(std::span<const std::uint8_t> pubkey, std::string_view nonce,
                       WallTime now) noexcept override {
        return m_store->record(pubkey, nonce, now);
    }

  private:
    std::optional<InMemoryNonceStore> m_store;
};

struct Harness {
    SwappableSigners signers;
    FreshNonces nonces;
    IntentValidator validator{nonces, signers};
    simdjson::dom::parser reparser;
    Canonicalizer canonicalizer;
    std::string recanonical;
};

Harness& harness() {
    static Harness h;
    return h;
}

void check_canonical_fixpoint(Harness& h, std::string_view canonical) {
    simdjson::dom::element root;
    const simdjson::padded_string padded(canonical);
    const simdjson::error_code err = h.reparser.parse(padded).get(root);
    // A double of 2^64 or more prints as an integer literal (1.9e19 ->
    // "19000000000000000000") that simdjson then refuses (jcs.h); anything
    // else the canonical form holds must parse again.
    if (err == simdjson::NUMBER_ERROR) return;
    check(err == simdjson::SUCCESS, "the canonical record parses again");
    check(h.canonicalizer.canonicalize(root, h.recanonical) == JcsStatus::ok,
          "the canonical record canonicalizes again");
    check(h.recanonical == canonical, "JCS(JCS(record)) == JCS(record)");
}

void check_intent(Harness& h, std::string_view text) {
    const ValidatorOptions& o = h.validator.options();
    const IntentVerdict& v = h.validator.validate(text, fuzz::k_now);
    if (text.size() > o.max_intent_bytes)
        check(!v.accepted && v.reason == RejectReason::too_large,
              "an oversized intent is too_large");

    if (!v.accepted) {
        check(static_cast<std::size_t>(v.reason) < k_reject_reasons, "reason in range");
        check(reject_reason_name(v.reason) != "unknown", "reason has a name");
        check(!v.message.empty(), "a rejection says what is wrong");
        const RejectReason reason = v.reason;
        const std::string message(v.message.view());
        const std::string field(v.field.view());
        const IntentVerdict& again = h.validator.validate(text, fuzz::k_now);
        check(!again.accepted && again.reason == reason && again.message.view() == message &&
                  again.field.view() == field,
              "a rejected intent is rejected again, the same way");
        return;
    }

    check(h.signers.lookup(v.pubkey) == SignerStatus::active,
          "accepted from an active signer only");
    check(v.timestamp >= fuzz::k_now - o.max_age && v.timestamp <= fuzz::k_now + o.max_future,
          "accepted timestamp within [now - max_age, now + max_future]");
    check(!v.canonical_record.empty(), "an accepted intent has a canonical record");
    const std::string_view canonical = v.canonical_record;
    check(chain::sha256(chain::ByteSpan(reinterpret_cast<const std::uint8_t*>(canonical.data()),
                                        canonical.size())) == v.record_hash,
          "record_hash = SHA-256 of the canonical record");
    check(v.record_id_known && !v.record_id.empty(), "an accepted intent has its recordId");
    std::array<char, 64> hex{};
    v.record_hash_hex(hex);
    for (char c : hex)
        check((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'), "record hash hex is lowercase hex");
    const std::string canonical_copy(canonical);  // the next validate() reuses the buffer
    check_canonical_fixpoint(h, canonical_copy);

    const IntentVerdict& again = h.validator.validate(text, fuzz::k_now);
    check(!again.accepted && again.reason == RejectReason::nonce_replay,
          "the same intent twice is a nonce_replay");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const fuzz::FuzzInput in =
        fuzz::split_input(std::string_view(reinterpret_cast<const char*>(data), size));
    const InMemorySignerRegistry::Loaded loaded =
        InMemorySignerRegistry::parse(in.registry, "fuzz");
    check_registry(in.registry, loaded);

    static const InMemorySignerRegistry empty;
    Harness& h = harness();
    h.signers.current = loaded ? &*loaded.registry : &empty;
    h.nonces.reset();
    check_intent(h, in.intent);
    return 0;
}
