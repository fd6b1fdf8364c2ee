#pragma once
// NonceStore: remembers which (signer pubkey, nonce) pairs have been used, so
// a captured intent cannot be published twice. Checked before the signature
// (the seed's order) and recorded only once the whole intent is accepted, so
// a forged intent naming a legitimate client's pubkey and a fresh nonce
// cannot burn that nonce (see IntentValidator).
//
// InMemoryNonceStore is what ingest checks: with a database it is loaded at
// start-up with the recent rows of the `nonces` table (storage/keys/nonces.h),
// and each accepted nonce reaches that table with its job_accepted fact.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "engine/model/wall_time.h"

namespace raregen::ingest {

enum class NonceRecord : std::uint8_t {
    recorded,  // stored; a later check() of the same pair reports seen
    replay,    // the pair was already live (a concurrent duplicate won)
    full,      // no room without forgetting a live nonce; nothing stored
};

class NonceStore {
  public:
    virtual ~NonceStore() = default;
    // True if (pubkey, nonce) has been recorded and is still remembered.
    virtual bool check(std::span<const std::uint8_t> pubkey, std::string_view nonce,
                       WallTime now) noexcept = 0;
    // Remembers (pubkey, nonce) as used at `now`.
    virtual NonceRecord record(std::span<const std::uint8_t> pubkey, std::string_view nonce,
                               WallTime now) noexcept = 0;
};

// A preallocated open-addressing table of (128-bit fingerprint, seen_at).
//
// Fingerprint: the first 128 bits of SHA-256(pubkey || nonce). The pubkey has
// a fixed length (33 bytes for the compressed keys intents use), so the
// concatenation is unambiguous; a false "seen" needs a 128-bit collision.
// Only intents with a valid signature by a registered key are ever recorded,
// so nobody else can steer entries into one probe window.
//
// Forgetting is safe after `retention` (= the validator's max_age +
// max_future): a nonce recorded at t0 belongs to an accepted record whose
// signed timestamp ts0 is at most t0 + max_future. Replaying that intent at
// t1 > t0 + max_age + max_future means ts0 < t1 - max_age, so the replay is
// refused as stale before the nonce is even looked at. Slots whose entry is
// older than that are reused in place. (The same signer deliberately signing a
// NEW record with an old nonce after the retention is not a replay; the
// durable Postgres store, which never forgets, is what will refuse that.)
// A wall clock stepping backwards only makes entries look younger: they are
// kept longer, never dropped early.
//
// Capacity: the table has bit_ceil(max(2 * capacity, 8)) slots, so at least
// `capacity` live nonces fit, usually about twice that. An entry lives in a
// window of at most 64 slots from its home slot (linear probing). If the
// window holds only live entries, record() returns full: the intent is
// refused (RejectReason::capacity) rather than a live nonce being forgotten.
// Memory: 24 bytes per slot (a capacity of 1M takes 48 MiB), all allocated
// and touched in the constructor.
//
// Threads: not thread-safe; one ingest stage owns it (calls from one thread
// at a time). Nothing allocates after construction.
class InMemoryNonceStore final : public NonceStore {
  public:
    static constexpr std::size_t k_default_capacity = std::size_t{1} << 20;
    static constexpr std::size_t k_probe_window = 64;

    // Throws std::invalid_argument (start-up) if capacity is 0 or too large,
    // or retention is not positive.
    InMemoryNonceStore(std::size_t capacity, std::chrono::nanoseconds retention);

    bool check(std::span<const std::uint8_t> pubkey, std::string_view nonce,
               WallTime now) noexcept override;
    NonceRecord record(std::span<const std::uint8_t> pubkey, std::string_view nonce,
                       WallTime now) noexcept override;

    std::size_t slot_count() const noexcept { return m_slots.size(); }
    std::chrono::nanoseconds retention() const noexcept { return m_retention; }
    // Entries ever stored, including ones since expired (for tests, metrics).
    std::uint64_t recorded_total() const noexcept { return m_recorded_total; }

  private:
    struct Slot {
        std::uint64_t h0 = 0;
        std::uint64_t h1 = 0;
        std::int64_t seen_at = k_empty;  // ns since the Unix epoch; k_empty: never used
    };
    static constexpr std::int64_t k_empty = INT64_MIN;

    struct Key {
        std::uint64_t h0;
        std::uint64_t h1;
    };
    static Key fingerprint(std::span<const std::uint8_t> pubkey, std::string_view nonce) noexcept;
    bool live(const Slot& s, std::int64_t now) const noexcept;

    std::vector<Slot> m_slots;
    std::size_t m_mask;
    std::size_t m_window;
    std::chrono::nanoseconds m_retention;
    std::uint64_t m_recorded_total = 0;
};

}  // namespace raregen::ingest
