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
//
// Why SPSC and not MPMC: the engine has one sign stage per ring (it signs in
// parallel inside, see stages/sign) and one refill thread, so single-producer
// single-consumer covers it, and it lets a bulk pop cost one acquire load and
// one release store however many UTXOs it takes.

#include <atomic>
#include <cstddef>

#include "engine/chain/publication.h"
#include "engine/flow/spsc_ring.h"

namespace raregen::utxo {

// flow::SpscRing's members, on UTXOs, plus the end of supply.
class UtxoRing : public flow::SpscRing<chain::Utxo> {
  public:
    // Throws std::invalid_argument (start-up) if capacity is 0 or above
    // k_max_capacity, std::bad_alloc if memory runs out.
    explicit UtxoRing(std::size_t capacity) : SpscRing(capacity) {}

    // End of supply: no more pushes will come (a fixed file of UTXOs, no
    // replenisher). Once closed and empty, the sign stage fails the jobs it
    // cannot fund instead of waiting for UTXOs forever. Any thread.
    void close() noexcept { m_closed.store(true, std::memory_order_release); }
    bool closed() const noexcept { return m_closed.load(std::memory_order_acquire); }
    std::size_t size() const noexcept { return depth(); }  // for flow::depth_gauge_of

  private:
    std::atomic<bool> m_closed{false};
};

// A slot is the UTXO itself; keep it small (the 256 MB budget for a
// million-UTXO ring leaves room, but every byte is paid a million times).
static_assert(sizeof(chain::Utxo) <= 48, "chain::Utxo grew; recheck the ring's memory budget");

}  // namespace raregen::utxo
