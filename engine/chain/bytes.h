#pragma once
// Byte buffers, hex, and the strict little-endian reader/writer every
// serializer and parser in the chain model uses.
//
// Writer appends to a caller-owned std::vector: cleared and reused, it stops
// allocating once its capacity covers the largest item (the hot path keeps
// one per thread). Reader never reads past its span: every accessor returns
// false on truncation and the caller turns that into a ParseError.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace raregen::chain {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

// Lowercase hex of `data`.
std::string to_hex(ByteSpan data);
// Appends lowercase hex of `data` to `out` (no allocation if `out` has room).
void append_hex(ByteSpan data, std::string& out);
// Hex of `data` in reverse byte order (how txids and digests are displayed).
std::string to_hex_reversed(ByteSpan data);
// Parses hex (either case, even length, no prefix or spaces). nullopt on any bad character.
std::optional<Bytes> from_hex(std::string_view hex);
// Parses exactly N bytes of hex; nullopt unless hex has exactly 2N valid characters.
template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> from_hex_fixed(std::string_view hex);

class Writer {
  public:
    explicit Writer(Bytes& out) : m_out(out) {}
    void u8(std::uint8_t v) { m_out.push_back(v); }
    void u32le(std::uint32_t v);
    void u64le(std::uint64_t v);
    void i32le(std::int32_t v) { u32le(static_cast<std::uint32_t>(v)); }
    void i64le(std::int64_t v) { u64le(static_cast<std::uint64_t>(v)); }
    // CompactSize, always the minimal encoding.
    void compact_size(std::uint64_t v);
    void bytes(ByteSpan data) { m_out.insert(m_out.end(), data.begin(), data.end()); }
    // CompactSize length followed by the bytes.
    void var_bytes(ByteSpan data) {
        compact_size(data.size());
        bytes(data);
    }
    std::size_t size() const { return m_out.size(); }

  private:
    Bytes& m_out;
};

// Size in bytes of the minimal CompactSize encoding of v.
constexpr std::size_t compact_size_len(std::uint64_t v) {
    return v < 0xfd ? 1 : v <= 0xffff ? 3 : v <= 0xffffffffULL ? 5 : 9;
}

class Reader {
  public:
    explicit Reader(ByteSpan data) : m_data(data) {}
    bool u8(std::uint8_t& v);
    bool u32le(std::uint32_t& v);
    bool u64le(std::uint64_t& v);
    bool i32le(std::int32_t& v);
    bool i64le(std::int64_t& v);
    // Refuses non-minimal encodings (as the node does); sets m_non_minimal so
    // callers can tell "truncated" from "non-minimal".
    bool compact_size(std::uint64_t& v);
    // A view of the next n bytes; false if fewer remain.
    bool bytes(std::size_t n, ByteSpan& out);
    bool skip(std::size_t n);
    std::size_t offset() const { return m_pos; }
    std::size_t remaining() const { return m_data.size() - m_pos; }
    bool last_was_non_minimal() const { return m_non_minimal; }

  private:
    ByteSpan m_data;
    std::size_t m_pos = 0;
    bool m_non_minimal = false;
};

// ---- template implementation ----
namespace detail {
int hex_value(char c);
}

template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> from_hex_fixed(std::string_view hex) {
    if (hex.size() != 2 * N) return std::nullopt;
    std::array<std::uint8_t, N> out{};
    for (std::size_t i = 0; i < N; ++i) {
        const int hi = detail::hex_value(hex[2 * i]);
        const int lo = detail::hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

}  // namespace raregen::chain
