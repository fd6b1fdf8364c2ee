#include "storage/utxo/utxo_ring.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace raregen::utxo {

namespace {

std::size_t checked_capacity(std::size_t capacity) {
    if (capacity == 0 || capacity > UtxoRing::k_max_capacity) {
        throw std::invalid_argument("utxo ring capacity must be between 1 and " +
                                    std::to_string(UtxoRing::k_max_capacity) + ", got " +
                                    std::to_string(capacity) + "; fix the configured pool size");
    }
    return capacity;
}

}  // namespace

// make_unique value-initializes every slot, which also touches every page
// now rather than on the hot path.
UtxoRing::UtxoRing(std::size_t capacity)
    : m_capacity(checked_capacity(capacity)), m_slots(std::make_unique<chain::Utxo[]>(capacity)) {}

// Memory order, the usual SPSC pairing: the producer writes slots, then
// publishes m_tail with release; the consumer reads m_tail with acquire
// before reading those slots. Symmetrically the consumer publishes m_head
// with release after it has copied slots out, and the producer reads m_head
// with acquire before overwriting them.

std::size_t UtxoRing::free_slots() const noexcept {
    const std::uint64_t tail = m_tail.load(std::memory_order_relaxed);  // own index
    const std::uint64_t head = m_head.load(std::memory_order_acquire);
    return m_capacity - static_cast<std::size_t>(tail - head);
}

bool UtxoRing::try_push(const chain::Utxo& utxo) noexcept {
    return try_push_bulk(std::span<const chain::Utxo>(&utxo, 1)) == 1;
}

std::size_t UtxoRing::try_push_bulk(std::span<const chain::Utxo> utxos) noexcept {
    const std::uint64_t tail = m_tail.load(std::memory_order_relaxed);
    std::size_t room = m_capacity - static_cast<std::size_t>(tail - m_head_seen);
    if (room < utxos.size()) {
        // Only look at the consumer's line when the cached view is not enough.
        m_head_seen = m_head.load(std::memory_order_acquire);
        room = m_capacity - static_cast<std::size_t>(tail - m_head_seen);
    }
    const std::size_t n = std::min(room, utxos.size());
    if (n == 0) return 0;
    const std::size_t at = static_cast<std::size_t>(tail % m_capacity);
    const std::size_t first = std::min(n, m_capacity - at);
    std::copy_n(utxos.data(), first, m_slots.get() + at);
    std::copy_n(utxos.data() + first, n - first, m_slots.get());
    m_tail.store(tail + n, std::memory_order_release);
    return n;
}

std::size_t UtxoRing::available() const noexcept {
    const std::uint64_t head = m_head.load(std::memory_order_relaxed);  // own index
    return static_cast<std::size_t>(m_tail.load(std::memory_order_acquire) - head);
}

bool UtxoRing::try_pop(chain::Utxo& out) noexcept {
    return try_pop_bulk(std::span<chain::Utxo>(&out, 1)) == 1;
}

std::size_t UtxoRing::try_pop_bulk(std::span<chain::Utxo> out) noexcept {
    const std::uint64_t head = m_head.load(std::memory_order_relaxed);
    std::size_t ready = static_cast<std::size_t>(m_tail_seen - head);
    if (ready < out.size()) {
        m_tail_seen = m_tail.load(std::memory_order_acquire);
        ready = static_cast<std::size_t>(m_tail_seen - head);
    }
    const std::size_t n = std::min(ready, out.size());
    if (n == 0) return 0;
    const std::size_t at = static_cast<std::size_t>(head % m_capacity);
    const std::size_t first = std::min(n, m_capacity - at);
    std::copy_n(m_slots.get() + at, first, out.data());
    std::copy_n(m_slots.get(), n - first, out.data() + first);
    m_head.store(head + n, std::memory_order_release);
    return n;
}

std::size_t UtxoRing::depth() const noexcept {
    // Head first: the tail read after it is at least the tail at that moment,
    // which is at least head, so the difference is never negative. The tail
    // may have run ahead of a head that has since moved too, hence the clamp.
    const std::uint64_t head = m_head.load(std::memory_order_acquire);
    const std::uint64_t tail = m_tail.load(std::memory_order_acquire);
    return std::min(static_cast<std::size_t>(tail - head), m_capacity);
}

}  // namespace raregen::utxo
