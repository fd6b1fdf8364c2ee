#include "stages/sign/resigner.h"

namespace raregen::sign {

Resigner::Resigner(const chain::PublicationKey& key, chain::PublicationOptions options)
    : m_key(key), m_options(options) {
    m_raw.reserve(model::k_max_tx_bytes);
    m_ef.reserve(model::k_max_tx_bytes);
}

bool Resigner::resign(model::Job& job, chain::FeeRate rate) noexcept {
    const bool extended = job.ef.size != 0;
    chain::PublicationOptions options = m_options;
    options.fee_rate = rate;
    const chain::RaregenPayload payload = chain::raregen_payload(job.record_hash);
    const chain::ByteSpan pushes[1] = {payload.span()};
    chain::BuildResult r;
    try {
        r = m_builder.build(m_key, job.utxo, pushes, options, m_raw, extended ? &m_ef : nullptr);
    } catch (...) {
        return false;  // out of memory growing a buffer: leave the job as it was
    }
    if (!r.ok() || m_raw.size() > model::k_max_tx_bytes ||
        (extended && m_ef.size() > model::k_max_tx_bytes))
        return false;
    job.raw.assign(m_raw);
    if (extended) job.ef.assign(m_ef);
    job.txid = r.txid;
    return true;
}

}  // namespace raregen::sign
