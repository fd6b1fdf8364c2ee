#pragma once
// SpscRing<T>: the project's one single-producer single-consumer ring, a
// fixed array of T allocated at construction. The UTXO ring the sign stage
// draws from (engine/model/utxo_ring.h) and the ARC client's hand-offs
// between the send stage and its I/O thread are instances of it.
//
// Contract
//   * Capacity is fixed at construction (any size, not only powers of two);
//     nothing allocates afterwards. Each item pushed is popped at most once,
//     in push order. Non-blocking: a full ring refuses a push, an empty one
//     returns nothing.
//   * Indices are 64-bit counts of pushes and pops since construction; they
//     never wrap in practice, so full and empty need no spare slot.
//
// Threads
//   * try_push / try_push_bulk / free_slots: the one producer thread.
//   * try_pop / try_pop_bulk / available: the one consumer thread.
//     Either role may move between threads with a happens-before (a join, a
//     mutex hand-off).
//   * depth(), capacity(), pushed(), popped(): any thread, any time.
// Memory order, the usual SPSC pairing: the producer writes slots, then
// publishes its index with release; the consumer reads it with acquire
// before reading those slots, and symmetrically for the consumer's index.
// Each side caches its last look at the other's index, so a bulk operation
// costs one acquire load and one release store however many items it moves.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

namespace raregen::flow {

template <class T>
class SpscRing {
  public:
    // Largest capacity accepted: 2^30 slots; it only guards against a
    // mistyped size.
    static constexpr std::size_t k_max_capacity = std::size_t{1} << 30;

    // Allocates `capacity` slots (value-initialized, which also touches every
    // page now rather than on the hot path). Throws std::invalid_argument if
    // capacity is 0 or above k_max_capacity, std::bad_alloc if memory runs out.
    explicit SpscRing(std::size_t capacity)
        : m_capacity(checked(capacity)), m_slots(std::make_unique<T[]>(capacity)) {}
    SpscRing(const SpscRing&) = delete;
    SpscRing& operator=(const SpscRing&) = delete;

    // --- producer thread ---
    bool try_push(const T& item) noexcept {
        return try_push_bulk(std::span<const T>(&item, 1)) == 1;
    }
    // Pushes the longest prefix of `items` that fits and returns its length.
    std::size_t try_push_bulk(std::span<const T> items) noexcept {
        const std::uint64_t tail = m_tail.load(std::memory_order_relaxed);
        std::size_t room = m_capacity - static_cast<std::size_t>(tail - m_head_seen);
        if (room < items.size()) {
            // Only look at the consumer's line when the cached view is not enough.
            m_head_seen = m_head.load(std::memory_order_acquire);
            room = m_capacity - static_cast<std::size_t>(tail - m_head_seen);
        }
        const std::size_t n = std::min(room, items.size());
        if (n == 0) return 0;
        const std::size_t at = static_cast<std::size_t>(tail % m_capacity);
        const std::size_t first = std::min(n, m_capacity - at);
        std::copy_n(items.data(), first, m_slots.get() + at);
        std::copy_n(items.data() + first, n - first, m_slots.get());
        m_tail.store(tail + n, std::memory_order_release);
        return n;
    }
    // Slots free right now; only grows until this thread pushes again, so a
    // push of that many always succeeds.
    std::size_t free_slots() const noexcept {
        const std::uint64_t tail = m_tail.load(std::memory_order_relaxed);  // own index
        return m_capacity - static_cast<std::size_t>(tail - m_head.load(std::memory_order_acquire));
    }

    // --- consumer thread ---
    // Moves the oldest item to `out` and returns true, or returns false if
    // the ring is empty (`out` untouched).
    bool try_pop(T& out) noexcept { return try_pop_bulk(std::span<T>(&out, 1)) == 1; }
    // Moves up to out.size() of the oldest items to the front of `out`, in
    // order, and returns how many.
    std::size_t try_pop_bulk(std::span<T> out) noexcept {
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
    // Items ready right now; only grows until this thread pops again, so a
    // pop of that many always succeeds.
    std::size_t available() const noexcept {
        const std::uint64_t head = m_head.load(std::memory_order_relaxed);  // own index
        return static_cast<std::size_t>(m_tail.load(std::memory_order_acquire) - head);
    }

    // --- any thread ---
    // Items in the ring, exact at some instant during the call. Head first:
    // the tail read after it is at least that head, so the difference is
    // never negative; the clamp covers a tail that ran ahead of a head that
    // has since moved too.
    std::size_t depth() const noexcept {
        const std::uint64_t head = m_head.load(std::memory_order_acquire);
        const std::uint64_t tail = m_tail.load(std::memory_order_acquire);
        return std::min(static_cast<std::size_t>(tail - head), m_capacity);
    }
    std::size_t capacity() const noexcept { return m_capacity; }
    // Totals since construction: items ever pushed / handed out.
    std::uint64_t pushed() const noexcept { return m_tail.load(std::memory_order_acquire); }
    std::uint64_t popped() const noexcept { return m_head.load(std::memory_order_acquire); }

  private:
    static constexpr std::size_t k_line = 64;

    static std::size_t checked(std::size_t capacity) {
        if (capacity == 0 || capacity > k_max_capacity)
            throw std::invalid_argument("ring capacity must be between 1 and " +
                                        std::to_string(k_max_capacity) + ", got " +
                                        std::to_string(capacity) + "; fix the configured size");
        return capacity;
    }

    const std::size_t m_capacity;
    const std::unique_ptr<T[]> m_slots;
    // Consumer's line: its index, and its last look at the producer's.
    alignas(k_line) std::atomic<std::uint64_t> m_head{0};
    std::uint64_t m_tail_seen = 0;
    // Producer's line: its index, and its last look at the consumer's.
    alignas(k_line) std::atomic<std::uint64_t> m_tail{0};
    std::uint64_t m_head_seen = 0;
};

}  // namespace raregen::flow
