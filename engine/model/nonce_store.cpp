#include "engine/model/nonce_store.h"

#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

#include "engine/chain/hash.h"

namespace raregen::ingest {

InMemoryNonceStore::InMemoryNonceStore(std::size_t capacity, std::chrono::nanoseconds retention)
    : m_retention(retention) {
    if (capacity == 0) {
        throw std::invalid_argument("nonce store: capacity must be at least 1");
    }
    constexpr std::size_t k_max_capacity = std::size_t{1} << 32;
    if (capacity > k_max_capacity) {
        throw std::invalid_argument("nonce store: capacity " + std::to_string(capacity) +
                                    " is too large (at most " + std::to_string(k_max_capacity) +
                                    "); lower it");
    }
    if (retention.count() <= 0) {
        throw std::invalid_argument(
            "nonce store: retention must be positive (max age + future skew)");
    }
    const std::size_t slots = std::bit_ceil(std::max<std::size_t>(2 * capacity, 8));
    m_slots.assign(slots, Slot{});
    m_mask = slots - 1;
    m_window = std::min(k_probe_window, slots);
}

InMemoryNonceStore::Key InMemoryNonceStore::fingerprint(std::span<const std::uint8_t> pubkey,
                                                        std::string_view nonce) noexcept {
    chain::Sha256 h;
    h.update(pubkey.data(), pubkey.size());
    h.update(nonce.data(), nonce.size());
    const chain::Hash256 d = h.finalize();
    Key k{};
    std::memcpy(&k.h0, d.data(), 8);
    std::memcpy(&k.h1, d.data() + 8, 8);
    return k;
}

bool InMemoryNonceStore::live(const Slot& s, std::int64_t now) const noexcept {
    if (s.seen_at == k_empty) return false;
    // seen_at > now (the wall clock stepped back) counts as live.
    return s.seen_at > now || now - s.seen_at <= m_retention.count();
}

bool InMemoryNonceStore::check(std::span<const std::uint8_t> pubkey, std::string_view nonce,
                               WallTime now) noexcept {
    const Key k = fingerprint(pubkey, nonce);
    const std::int64_t t = now.time_since_epoch().count();
    std::size_t i = static_cast<std::size_t>(k.h0) & m_mask;
    for (std::size_t n = 0; n < m_window; ++n, i = (i + 1) & m_mask) {
        const Slot& s = m_slots[i];
        // Slots never return to empty, and an entry is placed at the first
        // reusable slot of its window, so nothing of ours lies past an empty one.
        if (s.seen_at == k_empty) return false;
        if (s.h0 == k.h0 && s.h1 == k.h1) return live(s, t);
    }
    return false;
}

NonceRecord InMemoryNonceStore::record(std::span<const std::uint8_t> pubkey, std::string_view nonce,
                                       WallTime now) noexcept {
    const Key k = fingerprint(pubkey, nonce);
    const std::int64_t t = now.time_since_epoch().count();
    std::size_t i = static_cast<std::size_t>(k.h0) & m_mask;
    Slot* reusable = nullptr;
    Slot* own = nullptr;
    for (std::size_t n = 0; n < m_window; ++n, i = (i + 1) & m_mask) {
        Slot& s = m_slots[i];
        if (s.seen_at == k_empty) {
            if (reusable == nullptr) reusable = &s;
            break;
        }
        if (s.h0 == k.h0 && s.h1 == k.h1) {
            if (live(s, t)) return NonceRecord::replay;
            own = &s;  // our own expired entry: refresh it rather than duplicate it
            break;
        }
        if (reusable == nullptr && !live(s, t)) reusable = &s;
    }
    Slot* target = own != nullptr ? own : reusable;
    if (target == nullptr) return NonceRecord::full;
    target->h0 = k.h0;
    target->h1 = k.h1;
    target->seen_at = t;
    ++m_recorded_total;
    return NonceRecord::recorded;
}

}  // namespace raregen::ingest
