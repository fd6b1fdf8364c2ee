#include "engine/chain/split.h"

#include "engine/chain/ecdsa.h"
#include "engine/chain/script.h"
#include "engine/chain/sighash.h"

namespace raregen::chain {

namespace {

Bytes unlocking_script(ByteSpan sig_with_type, ByteSpan pubkey) {
    Bytes out;
    Writer w(out);
    write_push(w, sig_with_type);
    write_push(w, pubkey);
    return out;
}

}  // namespace

SplitResult build_split(const PublicationKey& key, const Utxo& funding, std::size_t count,
                        std::int64_t each, const FeeRate& rate) {
    SplitResult r;
    if (count == 0 || each <= 0) {
        r.error = "a split needs at least one output of at least 1 satoshi";
        return r;
    }
    const ByteSpan lock(key.locking_script().data(), key.locking_script().size());
    const Bytes lock_bytes(lock.begin(), lock.end());
    Transaction& tx = r.tx;
    TxIn in;
    in.prevout = funding.outpoint;
    in.prev = TxOut{funding.value, lock_bytes};
    tx.inputs.push_back(in);
    tx.outputs.assign(count, TxOut{each, lock_bytes});
    tx.outputs.push_back(TxOut{1, lock_bytes});  // change, sized below

    // The fee on the largest signature (72 DER bytes + type).
    const Bytes dummy_sig(73, 0x30);
    tx.inputs[0].script_sig = unlocking_script(dummy_sig, key.public_key().span());
    const std::uint64_t fee_with_change = rate.fee_for(standard_size(tx));
    const std::int64_t spent = static_cast<std::int64_t>(count) * each;
    if (funding.value < spent + static_cast<std::int64_t>(fee_with_change)) {
        tx.outputs.pop_back();
        const std::uint64_t fee = rate.fee_for(standard_size(tx));
        if (funding.value < spent + static_cast<std::int64_t>(fee)) {
            r.error = "the funding output holds " + std::to_string(funding.value) +
                      " satoshis but " + std::to_string(count) + " outputs of " +
                      std::to_string(each) + " and the fee need " +
                      std::to_string(spent + static_cast<std::int64_t>(fee)) +
                      ": fund the key with more, or split fewer";
            return r;
        }
        r.fee = static_cast<std::uint64_t>(funding.value - spent);
    } else {
        r.change = funding.value - spent - static_cast<std::int64_t>(fee_with_change);
        if (r.change == 0) {
            tx.outputs.pop_back();
        } else {
            tx.outputs.back().value = r.change;
        }
        r.fee = static_cast<std::uint64_t>(funding.value - spent - r.change);
    }

    const SighashCache cache = SighashCache::compute(tx);
    const Hash256 digest = signature_hash(tx, cache, 0, lock, funding.value, sighash::k_all_forkid);
    DerSignature sig;
    if (!Secp256k1::for_this_thread().sign(digest, key.private_key(), sig)) {
        r.error = "signing the split failed (invalid key)";
        return r;
    }
    Bytes sig_with_type(sig.span().begin(), sig.span().end());
    sig_with_type.push_back(static_cast<std::uint8_t>(sighash::k_all_forkid));
    tx.inputs[0].script_sig = unlocking_script(sig_with_type, key.public_key().span());
    r.txid = compute_txid(tx);
    return r;
}

}  // namespace raregen::chain
