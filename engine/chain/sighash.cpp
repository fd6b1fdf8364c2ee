#include "engine/chain/sighash.h"

namespace raregen::chain {

namespace {

void put_u32(Sha256& h, std::uint32_t v) {
    const std::uint8_t b[4] = {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
                               static_cast<std::uint8_t>(v >> 16),
                               static_cast<std::uint8_t>(v >> 24)};
    h.update(b, 4);
}

void put_u64(Sha256& h, std::uint64_t v) {
    std::uint8_t b[8];
    for (int i = 0; i < 8; ++i)
        b[i] = static_cast<std::uint8_t>(v >> (8 * i));
    h.update(b, 8);
}

void put_compact_size(Sha256& h, std::uint64_t v) {
    if (v < 0xfd) {
        const std::uint8_t b = static_cast<std::uint8_t>(v);
        h.update(&b, 1);
    } else if (v <= 0xffff) {
        const std::uint8_t b[3] = {0xfd, static_cast<std::uint8_t>(v),
                                   static_cast<std::uint8_t>(v >> 8)};
        h.update(b, 3);
    } else if (v <= 0xffffffffULL) {
        const std::uint8_t b = 0xfe;
        h.update(&b, 1);
        put_u32(h, static_cast<std::uint32_t>(v));
    } else {
        const std::uint8_t b = 0xff;
        h.update(&b, 1);
        put_u64(h, v);
    }
}

void put_output(Sha256& h, const TxOut& o) {
    put_u64(h, static_cast<std::uint64_t>(o.value));
    put_compact_size(h, o.script.size());
    h.update(o.script);
}

}  // namespace

SighashCache SighashCache::compute(const Transaction& tx) {
    SighashCache c;
    Sha256 prevouts, sequence, outputs;
    for (const TxIn& in : tx.inputs) {
        prevouts.update(in.prevout.txid);
        put_u32(prevouts, in.prevout.vout);
        put_u32(sequence, in.sequence);
    }
    for (const TxOut& o : tx.outputs)
        put_output(outputs, o);
    c.prevouts = prevouts.finalize_double();
    c.sequence = sequence.finalize_double();
    c.outputs = outputs.finalize_double();
    return c;
}

Hash256 signature_hash(const Transaction& tx, const SighashCache& cache, std::size_t input_index,
                       ByteSpan script_code, std::int64_t amount, std::uint32_t type) {
    const std::uint32_t base = type & 0x1f;
    const bool anyone_can_pay = (type & sighash::k_anyonecanpay) != 0;
    const Hash256 zero{};

    Hash256 outputs = zero;
    if (base != sighash::k_single && base != sighash::k_none) {
        outputs = cache.outputs;
    } else if (base == sighash::k_single && input_index < tx.outputs.size()) {
        Sha256 h;
        put_output(h, tx.outputs[input_index]);
        outputs = h.finalize_double();
    }

    const TxIn& in = tx.inputs[input_index];
    Sha256 h;
    put_u32(h, static_cast<std::uint32_t>(tx.version));
    h.update(anyone_can_pay ? zero : cache.prevouts);
    h.update(anyone_can_pay || base == sighash::k_single || base == sighash::k_none
                 ? zero
                 : cache.sequence);
    h.update(in.prevout.txid);
    put_u32(h, in.prevout.vout);
    put_compact_size(h, script_code.size());
    h.update(script_code);
    put_u64(h, static_cast<std::uint64_t>(amount));
    put_u32(h, in.sequence);
    h.update(outputs);
    put_u32(h, tx.lock_time);
    put_u32(h, type);
    return h.finalize_double();
}

Hash256 signature_hash(const Transaction& tx, std::size_t input_index, ByteSpan script_code,
                       std::int64_t amount, std::uint32_t type) {
    return signature_hash(tx, SighashCache::compute(tx), input_index, script_code, amount, type);
}

}  // namespace raregen::chain
