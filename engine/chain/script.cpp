#include "engine/chain/script.h"

#include <algorithm>

namespace raregen::chain {

P2pkhScript p2pkh_locking_script(const Hash160& pubkey_hash) {
    P2pkhScript s{};
    s[0] = op::k_dup;
    s[1] = op::k_hash160;
    s[2] = 20;
    std::copy(pubkey_hash.begin(), pubkey_hash.end(), s.begin() + 3);
    s[23] = op::k_equalverify;
    s[24] = op::k_checksig;
    return s;
}

bool parse_p2pkh_locking_script(ByteSpan script, Hash160& pubkey_hash) {
    if (script.size() != k_p2pkh_script_size || script[0] != op::k_dup ||
        script[1] != op::k_hash160 || script[2] != 20 || script[23] != op::k_equalverify ||
        script[24] != op::k_checksig)
        return false;
    std::copy(script.begin() + 3, script.begin() + 23, pubkey_hash.begin());
    return true;
}

void write_push(Writer& w, ByteSpan data) {
    const std::size_t n = data.size();
    if (n <= 75) {
        w.u8(static_cast<std::uint8_t>(n));  // 0 -> OP_0 (00), an empty push
    } else if (n <= 0xff) {
        w.u8(op::k_pushdata1);
        w.u8(static_cast<std::uint8_t>(n));
    } else if (n <= 0xffff) {
        w.u8(op::k_pushdata2);
        w.u8(static_cast<std::uint8_t>(n));
        w.u8(static_cast<std::uint8_t>(n >> 8));
    } else {
        w.u8(op::k_pushdata4);
        w.u32le(static_cast<std::uint32_t>(n));
    }
    w.bytes(data);
}

void write_data_script(Writer& w, std::span<const ByteSpan> pushes) {
    w.u8(op::k_false);
    w.u8(op::k_return);
    for (const ByteSpan& p : pushes)
        write_push(w, p);
}

std::size_t data_script_size(std::span<const ByteSpan> pushes) {
    std::size_t n = 2;
    for (const ByteSpan& p : pushes)
        n += push_prefix_size(p.size()) + p.size();
    return n;
}

std::string_view script_type_name(ScriptType t) {
    switch (t) {
        case ScriptType::p2pkh:
            return "p2pkh";
        case ScriptType::data:
            return "data";
        case ScriptType::other:
            return "other";
    }
    return "other";
}

bool parse_pushes(ByteSpan script, std::vector<ByteSpan>& out) {
    out.clear();
    Reader r(script);
    while (r.remaining() > 0) {
        std::uint8_t opcode = 0;
        r.u8(opcode);
        std::size_t len = 0;
        if (opcode <= 75) {
            len = opcode;
        } else if (opcode == op::k_pushdata1) {
            std::uint8_t v = 0;
            if (!r.u8(v)) return false;
            len = v;
        } else if (opcode == op::k_pushdata2) {
            std::uint8_t lo = 0, hi = 0;
            if (!r.u8(lo) || !r.u8(hi)) return false;
            len = static_cast<std::size_t>(lo) | static_cast<std::size_t>(hi) << 8;
        } else if (opcode == op::k_pushdata4) {
            std::uint32_t v = 0;
            if (!r.u32le(v)) return false;
            len = v;
        } else {
            return false;
        }
        ByteSpan data;
        if (!r.bytes(len, data)) return false;
        out.push_back(data);
    }
    return true;
}

bool parse_data_script(ByteSpan script, std::vector<ByteSpan>& out) {
    if (script.size() < 2 || script[0] != op::k_false || script[1] != op::k_return) return false;
    return parse_pushes(script.subspan(2), out);
}

ScriptType classify_script(ByteSpan script) {
    Hash160 h;
    if (parse_p2pkh_locking_script(script, h)) return ScriptType::p2pkh;
    std::vector<ByteSpan> pushes;
    if (parse_data_script(script, pushes)) return ScriptType::data;
    return ScriptType::other;
}

}  // namespace raregen::chain
