#pragma once
// Scripts the engine writes and reads: P2PKH locking/unlocking scripts and
// OP_FALSE OP_RETURN data outputs made of canonical pushes.

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/hash.h"

namespace raregen::chain {

namespace op {
constexpr std::uint8_t k_false = 0x00;
constexpr std::uint8_t k_pushdata1 = 0x4c;
constexpr std::uint8_t k_pushdata2 = 0x4d;
constexpr std::uint8_t k_pushdata4 = 0x4e;
constexpr std::uint8_t k_return = 0x6a;
constexpr std::uint8_t k_dup = 0x76;
constexpr std::uint8_t k_hash160 = 0xa9;
constexpr std::uint8_t k_equalverify = 0x88;
constexpr std::uint8_t k_checksig = 0xac;
}  // namespace op

using P2pkhScript = std::array<std::uint8_t, 25>;
constexpr std::size_t k_p2pkh_script_size = 25;

// 76 a9 14 <hash> 88 ac
P2pkhScript p2pkh_locking_script(const Hash160& pubkey_hash);
// True (and the hash) if `script` is exactly a P2PKH locking script.
bool parse_p2pkh_locking_script(ByteSpan script, Hash160& pubkey_hash);

// Size of the canonical push prefix for `len` bytes of data:
// 0 -> `00`; 1..75 -> one length byte; ..255 -> 4c+u8; ..65535 -> 4d+u16; else 4e+u32.
constexpr std::size_t push_prefix_size(std::size_t len) {
    return len <= 75 ? 1 : len <= 0xff ? 2 : len <= 0xffff ? 3 : 5;
}
// Writes a canonical push of `data`.
void write_push(Writer& w, ByteSpan data);

// OP_FALSE OP_RETURN followed by one canonical push per element of `pushes`.
void write_data_script(Writer& w, std::span<const ByteSpan> pushes);
std::size_t data_script_size(std::span<const ByteSpan> pushes);

enum class ScriptType : std::uint8_t {
    p2pkh,  // 76 a9 14 <20> 88 ac
    data,   // 00 6a followed by pushes only
    other,
};
std::string_view script_type_name(ScriptType t);
ScriptType classify_script(ByteSpan script);

// Splits a script made only of data pushes (opcodes 0x00..0x4e) into their
// payloads. False if any opcode is not a push or a push runs past the end.
// Allocates (not for the hot path).
bool parse_pushes(ByteSpan script, std::vector<ByteSpan>& out);
// The pushes of a data script (after 00 6a); false if it is not a data script.
bool parse_data_script(ByteSpan script, std::vector<ByteSpan>& out);

}  // namespace raregen::chain
