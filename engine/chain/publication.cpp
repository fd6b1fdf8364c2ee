#include "engine/chain/publication.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace raregen::chain {

namespace {

// Largest low-S DER signature (r padded to 33 bytes, s at most 32) plus the
// sighash byte: 72. Unlocking script: push(72) + push(pubkey).
constexpr std::size_t k_max_sig_with_type = 72;
constexpr std::uint32_t k_sequence = 0xffffffff;

std::size_t unlocking_size_max(const PublicationKey& key) {
    return 1 + k_max_sig_with_type + 1 + key.public_key().size;
}

std::size_t payload_bytes(std::span<const ByteSpan> pushes) {
    std::size_t n = 0;
    for (const ByteSpan& p : pushes)
        n += p.size();
    return n;
}

// Bytes of the serialized outputs: data output, then optional change.
std::size_t outputs_size(std::span<const ByteSpan> pushes, bool change) {
    const std::size_t data = data_script_size(pushes);
    std::size_t n = 8 + compact_size_len(data) + data;
    if (change) n += 8 + 1 + k_p2pkh_script_size;
    return n;
}

void write_input_prefix(Writer& w, const Utxo& utxo) {
    w.bytes(utxo.outpoint.txid);
    w.u32le(utxo.outpoint.vout);
}

const Hash256& hash_sequence_single_final() {
    // sha256d(ffffffff): the same for every one-input transaction we sign.
    static const Hash256 h = [] {
        const std::uint8_t seq[4] = {0xff, 0xff, 0xff, 0xff};
        return sha256d(ByteSpan(seq, 4));
    }();
    return h;
}

}  // namespace

PublicationKey::PublicationKey(const PrivateKey& key, bool compressed)
    : m_key(key),
      m_public(public_key_of(key, compressed)),
      m_hash(hash160(m_public.span())),
      m_lock(p2pkh_locking_script(m_hash)) {}

std::size_t PublicationBuilder::estimated_size(const PublicationKey& key,
                                               std::span<const ByteSpan> pushes, bool change) {
    const std::size_t unlock = unlocking_size_max(key);
    const std::size_t n_out = change ? 2 : 1;
    return 4 + 1 + 36 + compact_size_len(unlock) + unlock + 4 + compact_size_len(n_out) +
           outputs_size(pushes, change) + 4;
}

BuildResult PublicationBuilder::build(const PublicationKey& key, const Utxo& utxo,
                                      std::span<const ByteSpan> pushes,
                                      const PublicationOptions& options, Bytes& raw, Bytes* ef) {
    BuildResult res;
    // Cleared first, so that a refused build leaves no bytes to send by mistake.
    raw.clear();
    if (ef != nullptr) ef->clear();
    const std::size_t payload = payload_bytes(pushes);
    if (payload > options.max_payload) {
        res.error = BuildError::payload_too_large;
        res.needed = payload;
        res.available = options.max_payload;
        return res;
    }
    if (utxo.value < 0 || utxo.value > k_max_money) {
        res.error = BuildError::invalid_input_value;
        res.available = static_cast<std::uint64_t>(utxo.value);
        return res;
    }
    const std::uint64_t value = static_cast<std::uint64_t>(utxo.value);
    const std::uint64_t fee = options.fee_rate.fee_for(estimated_size(key, pushes, options.change));
    const std::uint64_t needed =
        fee + (options.change ? 1 : 0);  // change must not be dust (< 1 sat)
    if (value < needed) {
        res.error = BuildError::insufficient_funds;
        res.needed = needed;
        res.available = value;
        return res;
    }
    res.change = options.change ? static_cast<std::int64_t>(value - fee) : 0;
    res.fee = value - static_cast<std::uint64_t>(res.change);
    const std::uint64_t ceiling =
        std::max(fee * options.fee_ceiling_multiple, options.fee_ceiling_floor);
    if (res.fee > ceiling) {
        res.error = BuildError::fee_above_ceiling;
        res.needed = ceiling;
        res.available = value;
        return res;
    }

    // Outputs, serialized once: hashed for the sighash, then copied into both forms.
    m_outputs.clear();
    {
        Writer w(m_outputs);
        w.i64le(0);
        w.compact_size(data_script_size(pushes));
        write_data_script(w, pushes);
        if (options.change) {
            w.i64le(res.change);
            w.var_bytes(key.locking_script());
        }
    }

    // BIP143 preimage for one input with SIGHASH_ALL|FORKID.
    Sha256 pre;
    const std::uint8_t version[4] = {1, 0, 0, 0};
    pre.update(version, 4);
    std::uint8_t outpoint[36];
    std::memcpy(outpoint, utxo.outpoint.txid.data(), 32);
    for (int i = 0; i < 4; ++i)
        outpoint[32 + i] = static_cast<std::uint8_t>(utxo.outpoint.vout >> (8 * i));
    pre.update(sha256d(ByteSpan(outpoint, 36)));
    pre.update(hash_sequence_single_final());
    pre.update(outpoint, 36);
    const std::uint8_t script_len = k_p2pkh_script_size;
    pre.update(&script_len, 1);
    pre.update(key.locking_script());
    std::uint8_t amount[8];
    for (int i = 0; i < 8; ++i)
        amount[i] = static_cast<std::uint8_t>(value >> (8 * i));
    pre.update(amount, 8);
    const std::uint8_t seq_and_outputs_marker[4] = {0xff, 0xff, 0xff, 0xff};
    pre.update(seq_and_outputs_marker, 4);
    pre.update(sha256d(m_outputs));
    const std::uint8_t tail[8] = {0, 0, 0, 0, static_cast<std::uint8_t>(sighash::k_all_forkid),
                                  0, 0, 0};
    pre.update(tail, 8);  // lock_time 0, then sighash type as uint32
    const Hash256 digest = pre.finalize_double();

    DerSignature sig;
    if (!Secp256k1::for_this_thread().sign(digest, key.private_key(), sig)) {
        res.error = BuildError::signing_failed;
        return res;
    }

    m_unlock.clear();
    {
        Writer w(m_unlock);
        w.u8(static_cast<std::uint8_t>(sig.size + 1));
        w.bytes(sig.span());
        w.u8(static_cast<std::uint8_t>(sighash::k_all_forkid));
        write_push(w, key.public_key().span());
    }

    const std::uint8_t n_out = options.change ? 2 : 1;
    auto write_tx = [&](Bytes& out, bool extended) {
        out.clear();
        Writer w(out);
        w.i32le(1);
        if (extended) w.bytes(k_ef_marker);
        w.u8(1);
        write_input_prefix(w, utxo);
        w.var_bytes(m_unlock);
        w.u32le(k_sequence);
        if (extended) {
            w.u64le(value);
            w.var_bytes(key.locking_script());
        }
        w.u8(n_out);
        w.bytes(m_outputs);
        w.u32le(0);
    };
    write_tx(raw, false);
    res.raw_size = raw.size();
    res.txid = sha256d(raw);
    if (ef != nullptr) {
        write_tx(*ef, true);
        res.ef_size = ef->size();
    }
    return res;
}

std::string build_error_message(const BuildResult& r) {
    switch (r.error) {
        case BuildError::ok:
            return "ok";
        case BuildError::payload_too_large:
            return "payload of " + std::to_string(r.needed) + " bytes exceeds the maximum of " +
                   std::to_string(r.available) + " bytes; split the data or raise the maximum";
        case BuildError::insufficient_funds:
            return "input of " + std::to_string(r.available) + " sat cannot pay " +
                   std::to_string(r.needed) +
                   " sat (fee, plus 1 sat for a change output if change is on); use a larger "
                   "UTXO, a smaller payload or a lower fee rate";
        case BuildError::invalid_input_value:
            return "input value must be between 0 and 21,000,000 BSV in satoshis";
        case BuildError::fee_above_ceiling:
            return "input of " + std::to_string(r.available) +
                   " sat would all be paid as fee (no change output), above the ceiling of " +
                   std::to_string(r.needed) +
                   " sat; spend a UTXO of the publication value (100 sat) or turn change on";
        case BuildError::signing_failed:
            return "signing failed: the private key is invalid";
    }
    return "unknown build error";
}

std::optional<Hash256> published_record_hash(const Transaction& tx) {
    std::vector<ByteSpan> pushes;
    for (const TxOut& out : tx.outputs) {
        if (!parse_data_script(out.script, pushes) || pushes.size() != 1 ||
            pushes[0].size() != RaregenPayload::k_size)
            continue;
        constexpr std::size_t k_hex_at = 28;  // after {"p":"sl-drm","v":1,"hash":"
        const std::string_view hex(reinterpret_cast<const char*>(pushes[0].data()) + k_hex_at, 64);
        const auto hash = from_hex_fixed<32>(hex);
        if (!hash) continue;
        const RaregenPayload expect = raregen_payload(*hash);
        if (std::equal(expect.bytes.begin(), expect.bytes.end(), pushes[0].begin())) return *hash;
    }
    return std::nullopt;
}

RaregenPayload raregen_payload(const Hash256& record_hash) {
    static constexpr char k_prefix[] = R"({"p":"sl-drm","v":1,"hash":")";
    static constexpr char k_suffix[] = R"("})";
    static constexpr char k_hex[] = "0123456789abcdef";
    static_assert(sizeof(k_prefix) - 1 + 64 + sizeof(k_suffix) - 1 == RaregenPayload::k_size);
    RaregenPayload p;
    std::uint8_t* out = p.bytes.data();
    out = std::copy(k_prefix, k_prefix + sizeof(k_prefix) - 1, out);
    for (std::uint8_t b : record_hash) {
        *out++ = static_cast<std::uint8_t>(k_hex[b >> 4]);
        *out++ = static_cast<std::uint8_t>(k_hex[b & 0x0f]);
    }
    std::copy(k_suffix, k_suffix + sizeof(k_suffix) - 1, out);
    return p;
}

}  // namespace raregen::chain
