#include "stages/sign/resigner.h"

#include "engine/chain/tx.h"

namespace raregen::sign {

Resigner::Resigner(const chain::PublicationKey& key, chain::PublicationOptions options)
    : m_key(key), m_options(options) {
    m_raw.reserve(model::k_max_tx_bytes);
    m_ef.reserve(model::k_max_tx_bytes);
}

Resigner::Result Resigner::resign(model::Job& job, chain::FeeRate rate) noexcept {
    if (job.utxo.value <= 0) return Result::cannot_pay;
    std::int64_t refused_fee = -1;
    try {
        chain::Transaction old;
        if (chain::parse_transaction(job.raw.span(), old).ok()) {
            refused_fee = job.utxo.value;
            for (const chain::TxOut& o : old.outputs)
                refused_fee -= o.value;
        }
    } catch (...) {
        return Result::cannot_pay;  // out of memory: leave the job as it was
    }
    const bool extended = job.ef.size != 0;
    chain::PublicationOptions options = m_options;
    options.fee_rate = rate;
    const chain::RaregenPayload payload = chain::raregen_payload(job.record_hash);
    const chain::ByteSpan pushes[1] = {payload.span()};
    chain::BuildResult r;
    try {
        r = m_builder.build(m_key, job.utxo, pushes, options, m_raw, extended ? &m_ef : nullptr);
    } catch (...) {
        return Result::cannot_pay;  // out of memory growing a buffer: leave the job as it was
    }
    if (!r.ok() || m_raw.size() > model::k_max_tx_bytes ||
        (extended && m_ef.size() > model::k_max_tx_bytes))
        return Result::cannot_pay;
    if (refused_fee >= 0 && static_cast<std::int64_t>(r.fee) <= refused_fee)
        return Result::fee_not_higher;
    job.raw.assign(m_raw);
    if (extended) job.ef.assign(m_ef);
    job.txid = r.txid;
    return Result::resigned;
}

}  // namespace raregen::sign
