#pragma once
// Signature hashes for the FORKID (BIP143-style) digest the BSV node uses.
//
// SighashCache holds hashPrevouts, hashSequence and hashOutputs, computed
// once per transaction and reused for every input (see docs/protocol.md §2).

#include <cstdint>

#include "engine/chain/bytes.h"
#include "engine/chain/hash.h"
#include "engine/chain/tx.h"

namespace raregen::chain {

namespace sighash {
constexpr std::uint32_t k_all = 0x01;
constexpr std::uint32_t k_none = 0x02;
constexpr std::uint32_t k_single = 0x03;
constexpr std::uint32_t k_forkid = 0x40;
constexpr std::uint32_t k_anyonecanpay = 0x80;
constexpr std::uint32_t k_all_forkid = k_all | k_forkid;  // 0x41: what the engine signs with
}  // namespace sighash

struct SighashCache {
    Hash256 prevouts{};  // sha256d(all outpoints)
    Hash256 sequence{};  // sha256d(all sequences)
    Hash256 outputs{};   // sha256d(all outputs)
    static SighashCache compute(const Transaction& tx);
};

// The digest to sign for `input_index` (internal order, signed as-is).
// `script_code` is the script being satisfied (for P2PKH, the 25-byte
// locking script), `amount` the spent output's value. The BIP143 layout is
// applied whatever the type's bits (as the reference vectors do); the base
// type (low 5 bits) and ANYONECANPAY select which parts are zeroed. SINGLE
// with no matching output hashes zero outputs. Precondition: input_index < inputs.
Hash256 signature_hash(const Transaction& tx, const SighashCache& cache, std::size_t input_index,
                       ByteSpan script_code, std::int64_t amount, std::uint32_t type);
// Convenience: computes the cache (once per call).
Hash256 signature_hash(const Transaction& tx, std::size_t input_index, ByteSpan script_code,
                       std::int64_t amount, std::uint32_t type);

}  // namespace raregen::chain
