#pragma once
// Building and signing a publication transaction: one P2PKH input, one
// OP_FALSE OP_RETURN data output, and optionally change back to the key's
// own address. This is the engine's hot path.
//
// Thread contract: a PublicationKey is immutable after construction and may
// be shared by all threads. A PublicationBuilder holds scratch buffers and
// is used by one thread at a time (one per signing thread); after its
// buffers have grown to the largest transaction it builds, build() allocates
// nothing (as long as the caller also reuses its output vectors).

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "engine/chain/bytes.h"
#include "engine/chain/ecdsa.h"
#include "engine/chain/fees.h"
#include "engine/chain/hash.h"
#include "engine/chain/keys.h"
#include "engine/chain/script.h"
#include "engine/chain/sighash.h"
#include "engine/chain/tx.h"

namespace raregen::chain {

// The signing key with everything derived from it, computed once.
class PublicationKey {
  public:
    explicit PublicationKey(const PrivateKey& key, bool compressed = true);
    const PrivateKey& private_key() const { return m_key; }
    const PublicKey& public_key() const { return m_public; }
    const Hash160& pubkey_hash() const { return m_hash; }
    const P2pkhScript& locking_script() const { return m_lock; }

  private:
    PrivateKey m_key;
    PublicKey m_public;
    Hash160 m_hash;
    P2pkhScript m_lock;
};

// An output of the key's own P2PKH script, to be spent.
struct Utxo {
    OutPoint outpoint;
    std::int64_t value = 0;
};

struct PublicationOptions {
    bool change = false;                              // add a change output to the key's address
    FeeRate fee_rate{};                               // default 100 sat / 1000 bytes
    std::size_t max_payload = k_default_max_payload;  // total bytes of all pushes
    static constexpr std::size_t k_default_max_payload = 100'000;
    // Without change, the whole input beyond the data output is fee. A fee
    // above max(fee_ceiling_multiple x the fee the rate asks for this size,
    // fee_ceiling_floor) is refused before signing (fee_above_ceiling): a
    // UTXO larger than a publication needs is never burnt.
    std::uint64_t fee_ceiling_multiple = 10;
    std::uint64_t fee_ceiling_floor = 1'000;
};

enum class BuildError : std::uint8_t {
    ok,
    payload_too_large,    // pushes exceed options.max_payload
    insufficient_funds,   // input value < fee (+ 1 sat change when change is on)
    invalid_input_value,  // input value negative or above 21e6 BSV
    fee_above_ceiling,    // no change, and the input would pay more fee than the ceiling
    signing_failed,       // libsecp256k1 refused (cannot happen with a valid key)
};

struct BuildResult {
    BuildError error = BuildError::ok;
    Hash256 txid{};            // internal order
    std::size_t raw_size = 0;  // standard serialization
    std::size_t ef_size = 0;   // 0 unless EF was requested
    std::uint64_t fee = 0;     // input value - outputs
    std::int64_t change = 0;   // 0 without change
    // Details for messages: what was needed vs available.
    std::uint64_t needed = 0;
    std::uint64_t available = 0;
    bool ok() const { return error == BuildError::ok; }
};
// A sentence for a user: what was wrong and what to do. Allocates; not for the hot path.
std::string build_error_message(const BuildResult& r);

class PublicationBuilder {
  public:
    // Writes the signed transaction's standard bytes to `raw` and, if `ef` is
    // not null, its Extended Format bytes to `ef` (both cleared first).
    // Signs with the calling thread's secp256k1 context.
    BuildResult build(const PublicationKey& key, const Utxo& utxo, std::span<const ByteSpan> pushes,
                      const PublicationOptions& options, Bytes& raw, Bytes* ef);

    // Standard size of the transaction build() would make, assuming the
    // largest low-S signature (the fee is computed on this size).
    static std::size_t estimated_size(const PublicationKey& key, std::span<const ByteSpan> pushes,
                                      bool change);

  private:
    Bytes m_outputs;  // serialized outputs (hashed for the sighash, then copied)
    Bytes m_unlock;   // unlocking script
};

// The RareGen payload {"p":"sl-drm","v":1,"hash":"<64 hex>"} for a record
// hash, written into a fixed buffer (no allocation). 94 bytes.
struct RaregenPayload {
    static constexpr std::size_t k_size = 94;
    std::array<std::uint8_t, k_size> bytes{};
    ByteSpan span() const { return bytes; }
};
RaregenPayload raregen_payload(const Hash256& record_hash);

// The inverse, for readers of published transactions (the demo's proof,
// tests): the record hash of the first data output of `tx` whose single
// push is exactly raregen_payload(hash) (lower-case hex, as written), or
// nullopt if it carries none (a split, say). Allocates; not for the hot path.
std::optional<Hash256> published_record_hash(const Transaction& tx);

}  // namespace raregen::chain
