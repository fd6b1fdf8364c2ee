#pragma once
// SignerRegistry: which public keys may publish. InMemorySignerRegistry is
// what ingest reads: filled at start-up from the `registered_keys` table
// (storage/keys/signers.h) or, without a database, from a file
// (`--registered FILE`).
//
// File format (what `raregen gen intents --registered FILE` writes), one
// signer per line:
//
//     # comment to the end of the line; blank lines are ignored
//     02a1633cafcc01ebfb6d78e39f687a1f0995c62fc95f51ead10a02ee0be551b5dc active
//     03f8...                                                            revoked
//     02c4...                # no status: active
//
//   * PUBKEY_HEX: a compressed secp256k1 public key, 66 hex digits (either
//     case) starting 02 or 03; intents are signed by compressed keys only.
//   * status (optional, default active): `active`, or `revoked` / `inactive`
//     (same meaning: the key is known but may not publish). Case-sensitive.
//   * Fields are separated by spaces or tabs; CRLF line ends are accepted.
//   * A key listed twice is an error (even with the same status), so a
//     merge mistake is caught instead of one line silently winning.
// Plain text rather than JSON lines: it is what operators edit by hand and
// grep, and it has exactly two fields.
//
// Threads: lookup() from any number of threads once loading is done; loading
// (parse/load_file/add/set) is set-up only. lookup() allocates nothing.
// LiveSignerRegistry is the one that may change while ingest reads it (the
// service's operator endpoints register and revoke signers).

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace raregen::ingest {

enum class SignerStatus : std::uint8_t {
    unknown,   // not registered
    active,    // may publish
    inactive,  // registered but revoked / disabled
};
std::string_view signer_status_name(SignerStatus s) noexcept;

class SignerRegistry {
  public:
    virtual ~SignerRegistry() = default;
    // `pubkey`: the serialized key as signed with (33 bytes compressed).
    virtual SignerStatus lookup(std::span<const std::uint8_t> pubkey) const noexcept = 0;
};

using CompressedPubkey = std::array<std::uint8_t, 33>;

class InMemorySignerRegistry final : public SignerRegistry {
  public:
    struct Loaded;

    InMemorySignerRegistry() = default;

    // Parses the file format above. `source` names the input in errors
    // ("signers.txt:12: ..."). On failure the result holds no registry and an
    // error that says what is wrong on which line and how to fix it.
    static Loaded parse(std::string_view text, std::string_view source);
    // Reads and parses a file; errors name the path (missing, unreadable, ...).
    static Loaded load_file(const std::string& path);

    // Set-up: registers a key; false if it is already registered (unchanged).
    bool add(const CompressedPubkey& pubkey, SignerStatus status);
    // Set-up: the key's status, whether known or not (unknown: forgotten).
    void set(const CompressedPubkey& pubkey, SignerStatus status);

    SignerStatus lookup(std::span<const std::uint8_t> pubkey) const noexcept override;

    std::size_t size() const noexcept { return m_keys.size(); }
    std::size_t active_count() const noexcept { return m_active; }

  private:
    struct KeyHash {
        std::size_t operator()(const CompressedPubkey& k) const noexcept;
    };
    std::unordered_map<CompressedPubkey, SignerStatus, KeyHash> m_keys;
    std::size_t m_active = 0;
};

struct InMemorySignerRegistry::Loaded {
    std::optional<InMemorySignerRegistry> registry;
    std::string error;
    explicit operator bool() const { return registry.has_value(); }
};

// The registry of a running service: ingest looks keys up while an operator
// registers or revokes one. lookup() takes a shared lock (no allocation, no
// waiting unless a change is being written); set() an exclusive one.
class LiveSignerRegistry final : public SignerRegistry {
  public:
    LiveSignerRegistry() = default;
    LiveSignerRegistry(const LiveSignerRegistry&) = delete;
    LiveSignerRegistry& operator=(const LiveSignerRegistry&) = delete;

    SignerStatus lookup(std::span<const std::uint8_t> pubkey) const noexcept override;
    // Any thread: the next lookup of `pubkey` answers `status`.
    void set(const CompressedPubkey& pubkey, SignerStatus status);
    // Set-up only (before any reader): the registry to load into.
    InMemorySignerRegistry& loading() noexcept { return m_keys; }
    std::size_t active_count() const;

  private:
    mutable std::shared_mutex m_mu;
    InMemorySignerRegistry m_keys;
};

}  // namespace raregen::ingest
