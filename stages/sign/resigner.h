#pragma once
// Resigner: signs a job's publication transaction again, on the SAME UTXO,
// at a new fee rate. The one case where the engine signs a second
// transaction for a job (docs/design.md invariant 3): the network refused the
// first one for its fee (ARC 465), so it is definitively not on the network.
// The caller records the new transaction (FactKind::tx_resigned) and waits
// for it to be durable before sending it.
//
// Threads: one thread at a time (it owns a builder and scratch buffers).
// After its buffers have grown once, resign() allocates nothing.

#include "engine/chain/publication.h"
#include "engine/model/job.h"

namespace raregen::sign {

class Resigner {
  public:
    // `options` as the sign stage used them (change, payload limit); the fee
    // rate is replaced per call. `key` must outlive the Resigner.
    Resigner(const chain::PublicationKey& key, chain::PublicationOptions options);

    enum class Result : std::uint8_t {
        resigned,        // job.txid, raw and ef replaced
        fee_not_higher,  // `rate` asks no more than the refused transaction paid
                         // (the policy could not be re-read): signing again is pointless
        cannot_pay,      // the UTXO's value is unknown (0) or cannot pay the new fee
    };
    // Replaces job.txid, job.raw and job.ef (EF kept if the job had one) with
    // a transaction spending job.utxo at `rate`. Anything but `resigned`
    // leaves the job unchanged. Reads the refused fee from job.raw (parsing
    // allocates: a rare path, after a 465).
    Result resign(model::Job& job, chain::FeeRate rate) noexcept;

  private:
    const chain::PublicationKey& m_key;
    chain::PublicationOptions m_options;
    chain::PublicationBuilder m_builder;
    chain::Bytes m_raw, m_ef;
};

}  // namespace raregen::sign
