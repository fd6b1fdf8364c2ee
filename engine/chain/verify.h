#pragma once
// Verification of P2PKH inputs: the checks a node makes for the scripts the
// engine writes (not a general script interpreter). Used by `raregen tx
// verify`, by tests, and by the local network.

#include <cstdint>
#include <string_view>

#include "engine/chain/sighash.h"
#include "engine/chain/tx.h"

namespace raregen::chain {

enum class InputVerifyError : std::uint8_t {
    ok,
    no_input,              // input index out of range
    prev_not_p2pkh,        // the spent output's script is not P2PKH
    unlocking_not_pushes,  // unlocking script is not exactly <sig> <pubkey>
    bad_sighash_type,      // sighash byte lacks FORKID or has an unknown base type
    pubkey_hash_mismatch,  // HASH160(pubkey) differs from the locking script's hash
    bad_public_key,
    bad_der,
    high_s,
    bad_signature,
};
std::string_view input_verify_message(InputVerifyError e);

// Checks input `index` of `tx` against the output it spends.
InputVerifyError verify_p2pkh_input(const Transaction& tx, const SighashCache& cache,
                                    std::size_t index, const TxOut& prev);

}  // namespace raregen::chain
