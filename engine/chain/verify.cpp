#include "engine/chain/verify.h"

#include <vector>

#include "engine/chain/ecdsa.h"
#include "engine/chain/script.h"

namespace raregen::chain {

std::string_view input_verify_message(InputVerifyError e) {
    switch (e) {
        case InputVerifyError::ok:
            return "ok";
        case InputVerifyError::no_input:
            return "no input at that index";
        case InputVerifyError::prev_not_p2pkh:
            return "the spent output is not a P2PKH script";
        case InputVerifyError::unlocking_not_pushes:
            return "unlocking script is not exactly two pushes <signature> <public key>";
        case InputVerifyError::bad_sighash_type:
            return "sighash type must include FORKID (0x40) with base ALL, NONE or SINGLE";
        case InputVerifyError::pubkey_hash_mismatch:
            return "HASH160 of the public key does not match the locking script";
        case InputVerifyError::bad_public_key:
            return "public key is not a valid secp256k1 point";
        case InputVerifyError::bad_der:
            return "signature is not strict DER";
        case InputVerifyError::high_s:
            return "signature is not low-S";
        case InputVerifyError::bad_signature:
            return "signature does not verify";
    }
    return "unknown";
}

InputVerifyError verify_p2pkh_input(const Transaction& tx, const SighashCache& cache,
                                    std::size_t index, const TxOut& prev) {
    if (index >= tx.inputs.size()) return InputVerifyError::no_input;
    Hash160 expected;
    if (!parse_p2pkh_locking_script(prev.script, expected)) return InputVerifyError::prev_not_p2pkh;
    std::vector<ByteSpan> pushes;
    if (!parse_pushes(tx.inputs[index].script_sig, pushes) || pushes.size() != 2 ||
        pushes[0].empty())
        return InputVerifyError::unlocking_not_pushes;
    const ByteSpan sig_with_type = pushes[0];
    const ByteSpan pubkey = pushes[1];
    const std::uint32_t type = sig_with_type.back();
    const std::uint32_t base = type & 0x1f;
    if ((type & sighash::k_forkid) == 0 || base < sighash::k_all || base > sighash::k_single)
        return InputVerifyError::bad_sighash_type;
    if (pubkey.size() != 33 && pubkey.size() != 65) return InputVerifyError::bad_public_key;
    if (hash160(pubkey) != expected) return InputVerifyError::pubkey_hash_mismatch;
    const Hash256 digest = signature_hash(tx, cache, index, prev.script, prev.value, type);
    switch (Secp256k1::for_this_thread().verify(
        digest, sig_with_type.first(sig_with_type.size() - 1), pubkey)) {
        case VerifyError::ok:
            return InputVerifyError::ok;
        case VerifyError::bad_public_key:
            return InputVerifyError::bad_public_key;
        case VerifyError::bad_der:
            return InputVerifyError::bad_der;
        case VerifyError::high_s:
            return InputVerifyError::high_s;
        case VerifyError::bad_signature:
            return InputVerifyError::bad_signature;
    }
    return InputVerifyError::bad_signature;
}

}  // namespace raregen::chain
