#pragma once
// UtxoRing: the preallocated ring of spendable UTXOs the sign stage draws
// from, one per job.
//
// Contract
//   * Capacity is fixed at construction; the slots are allocated there and
//     nothing allocates afterwards. A slot is a chain::Utxo (48 bytes), so a
//     million-UTXO ring takes about 48 MB.
//   * Each UTXO pushed is popped at most once, in push order (FIFO). The ring
//     never copies a slot out twice: a pop hands the slot's UTXO over and the
//     slot is free for the producer only after that. Whether the UTXOs pushed
//     are distinct is the feeder's business (load_utxo_file refuses
//     duplicates; a database source leases each row to one engine); the ring
//     does not look at outpoints.
//   * Non-blocking: every member returns at once. A full ring refuses a push
//     (the feeder keeps its UTXO and tries later); an empty ring returns
//     nothing (the sign stage keeps its jobs and reports blocked).
//
// Threads: single producer, single consumer, lock-free.
//   * try_push / try_push_bulk / free_slots: the one producer thread (the
//     loader at start, or the pool feeder, storage/pool/pool_feeder.h). The
//     role may move between threads with a happens-before (a join, a mutex
//     hand-off).
//   * try_pop / try_pop_bulk / available: the one consumer thread (the
//     runner thread stepping the sign stage).
//   * depth(), size(), capacity(), pushed(), popped(): any thread, any time
//     (metrics: raregen_utxo_pool_depth).
// Why SPSC and not MPMC: the engine has one sign stage per ring (it signs in
// parallel inside, see stages/sign) and one refill thread, so single-producer
// single-consumer covers it, and it lets a bulk pop cost one acquire load and
// one release store however many UTXOs it takes.
//
// Indices are 64-bit counts of pushes and pops since construction; they never
// wrap in practice (2^64 UTXOs), so full/empty need no spare slot.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "engine/chain/publication.h"

namespace raregen::utxo {

class UtxoRing {
  public:
    // Largest capacity accepted: 2^30 slots (48 GiB), far past any real pool;
    // it only guards against a mistyped size.
    static constexpr std::size_t k_max_capacity = std::size_t{1} << 30;

    // Allocates `capacity` slots. Throws std::invalid_argument (start-up) if
    // capacity is 0 or above k_max_capacity, std::bad_alloc if memory runs out.
    explicit UtxoRing(std::size_t capacity);
    UtxoRing(const UtxoRing&) = delete;
    UtxoRing& operator=(const UtxoRing&) = delete;

    // --- producer thread ----------------------------------------------------

    // Copies `utxo` in and returns true, or returns false if the ring is full.
    bool try_push(const chain::Utxo& utxo) noexcept;
    // Pushes the longest prefix of `utxos` that fits and returns its length.
    std::size_t try_push_bulk(std::span<const chain::Utxo> utxos) noexcept;
    // Slots free right now; only grows until this thread pushes again (the
    // consumer can only free more), so a push of that many always succeeds.
    std::size_t free_slots() const noexcept;

    // --- consumer thread ----------------------------------------------------

    // Moves the oldest UTXO to `out` and returns true, or returns false if
    // the ring is empty (`out` untouched).
    bool try_pop(chain::Utxo& out) noexcept;
    // Moves up to out.size() of the oldest UTXOs to the front of `out`, in
    // order, and returns how many.
    std::size_t try_pop_bulk(std::span<chain::Utxo> out) noexcept;
    // UTXOs ready right now; only grows until this thread pops again (the
    // producer can only add more), so a pop of that many always succeeds.
    std::size_t available() const noexcept;

    // --- any thread ---------------------------------------------------------

    // End of supply: no more pushes will come (a fixed file of UTXOs, no
    // replenisher). Once closed and empty, the sign stage fails the jobs it
    // cannot fund instead of waiting for UTXOs forever.
    void close() noexcept { m_closed.store(true, std::memory_order_release); }
    bool closed() const noexcept { return m_closed.load(std::memory_order_acquire); }

    // UTXOs in the ring, exact at some instant during the call.
    std::size_t depth() const noexcept;
    std::size_t size() const noexcept { return depth(); }  // for flow::depth_gauge_of
    std::size_t capacity() const noexcept { return m_capacity; }
    // Totals since construction: UTXOs ever pushed / handed out.
    std::uint64_t pushed() const noexcept { return m_tail.load(std::memory_order_acquire); }
    std::uint64_t popped() const noexcept { return m_head.load(std::memory_order_acquire); }

  private:
    static constexpr std::size_t k_line = 64;

    const std::size_t m_capacity;
    const std::unique_ptr<chain::Utxo[]> m_slots;

    // Consumer's line: its index, and its last look at the producer's.
    alignas(k_line) std::atomic<std::uint64_t> m_head{0};
    std::uint64_t m_tail_seen = 0;
    // Producer's line: its index, and its last look at the consumer's.
    alignas(k_line) std::atomic<std::uint64_t> m_tail{0};
    std::uint64_t m_head_seen = 0;
    std::atomic<bool> m_closed{false};
};

// A slot is the UTXO itself; keep it small (the 256 MB budget for a
// million-UTXO ring leaves room, but every byte is paid a million times).
static_assert(sizeof(chain::Utxo) <= 48, "chain::Utxo grew; recheck the ring's memory budget");

}  // namespace raregen::utxo
