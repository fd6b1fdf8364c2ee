#pragma once
// Where the ring's UTXOs come from, and the refill step that moves them in.
//
// A UtxoSource hands out spendable UTXOs, each at most once. Today that is a
// file loaded at start (VectorUtxoSource over load_utxo_file's result);
// later a Postgres source leases rows of the `utxos` table to this engine
// instance, and the replenisher adds the outputs of accepted split
// transactions. All of them feed a UtxoRing through refill(), called by the
// ring's one producer thread, so the ring and the sign stage never know
// which source they are drawing from.
//
// Threads: a source is used by one thread at a time (the refill thread).
// Memory: refill() allocates nothing; a source may (it is off the hot path).

#include <cstddef>
#include <span>
#include <vector>

#include "engine/chain/publication.h"
#include "storage/utxo/utxo_ring.h"

namespace raregen::utxo {

class UtxoSource {
  public:
    virtual ~UtxoSource() = default;

    // Writes up to out.size() UTXOs that this source has never handed out
    // before to the front of `out` and returns how many (0: none right now).
    // Once a UTXO is returned, the source considers it gone (a database
    // source marks it leased); the caller must not drop it.
    virtual std::size_t take(std::span<chain::Utxo> out) = 0;

    // True once take() will never return anything again (a file read to the
    // end). A database source never is.
    virtual bool exhausted() const = 0;
};

// Hands out a fixed list in order, each UTXO once.
class VectorUtxoSource final : public UtxoSource {
  public:
    explicit VectorUtxoSource(std::vector<chain::Utxo> utxos) : m_utxos(std::move(utxos)) {}

    std::size_t take(std::span<chain::Utxo> out) override;
    bool exhausted() const override { return m_next == m_utxos.size(); }
    std::size_t remaining() const { return m_utxos.size() - m_next; }

  private:
    std::vector<chain::Utxo> m_utxos;
    std::size_t m_next = 0;
};

// Moves UTXOs from `source` into `ring` until the ring is full or the source
// has none to give right now, `scratch.size()` at a time; returns how many
// moved. Call it from the ring's producer thread only. It asks the source for
// no more than the ring has room for, so nothing taken from the source is
// ever held back or lost. After moving some into a ring that was empty, wake
// the runner (RunContext::wake) so a sign stage blocked on the empty ring
// resumes without waiting for its park timeout.
// Precondition: !scratch.empty().
std::size_t refill(UtxoSource& source, UtxoRing& ring, std::span<chain::Utxo> scratch);

}  // namespace raregen::utxo
