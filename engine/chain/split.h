#pragma once
// Splitting: one transaction that turns a funding output of the key's own
// P2PKH script into many equal outputs (the 100-satoshi publish UTXOs) plus
// change back to the key. Used by `raregen utxos split` and the demo; not a
// hot path (it allocates freely).

#include <cstdint>
#include <string>

#include "engine/chain/fees.h"
#include "engine/chain/publication.h"
#include "engine/chain/tx.h"

namespace raregen::chain {

struct SplitResult {
    Transaction tx;           // signed; inputs[0].prev set (so it serializes as EF)
    Hash256 txid{};           // internal order
    std::int64_t change = 0;  // value of the last output (0: no change output)
    std::uint64_t fee = 0;
    std::string error;  // empty on success; else what was wrong and what to do
    bool ok() const { return error.empty(); }
};

// Spends `funding` (an output of key's P2PKH script worth funding.value)
// into `count` outputs of `each` satoshis to the key's script, then change
// (if at least 1 satoshi is left after the fee at `rate`; else the remainder
// is fee). Signs with SIGHASH_ALL|FORKID.
SplitResult build_split(const PublicationKey& key, const Utxo& funding, std::size_t count,
                        std::int64_t each, const FeeRate& rate);

}  // namespace raregen::chain
