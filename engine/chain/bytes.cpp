#include "engine/chain/bytes.h"

namespace raregen::chain {

namespace detail {
int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace detail

namespace {
constexpr char k_hex_digits[] = "0123456789abcdef";
}

void append_hex(ByteSpan data, std::string& out) {
    const std::size_t start = out.size();
    out.resize(start + 2 * data.size());
    char* p = out.data() + start;
    for (std::uint8_t b : data) {
        *p++ = k_hex_digits[b >> 4];
        *p++ = k_hex_digits[b & 0x0f];
    }
}

std::string to_hex(ByteSpan data) {
    std::string out;
    append_hex(data, out);
    return out;
}

std::string to_hex_reversed(ByteSpan data) {
    Bytes rev(data.rbegin(), data.rend());
    return to_hex(rev);
}

std::optional<Bytes> from_hex(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    Bytes out(hex.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = detail::hex_value(hex[2 * i]);
        const int lo = detail::hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

void Writer::u32le(std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        m_out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void Writer::u64le(std::uint64_t v) {
    for (int i = 0; i < 8; ++i)
        m_out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void Writer::compact_size(std::uint64_t v) {
    if (v < 0xfd) {
        u8(static_cast<std::uint8_t>(v));
    } else if (v <= 0xffff) {
        u8(0xfd);
        u8(static_cast<std::uint8_t>(v));
        u8(static_cast<std::uint8_t>(v >> 8));
    } else if (v <= 0xffffffffULL) {
        u8(0xfe);
        u32le(static_cast<std::uint32_t>(v));
    } else {
        u8(0xff);
        u64le(v);
    }
}

bool Reader::u8(std::uint8_t& v) {
    if (remaining() < 1) return false;
    v = m_data[m_pos++];
    return true;
}

bool Reader::u32le(std::uint32_t& v) {
    if (remaining() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i)
        v |= static_cast<std::uint32_t>(m_data[m_pos + i]) << (8 * i);
    m_pos += 4;
    return true;
}

bool Reader::u64le(std::uint64_t& v) {
    if (remaining() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i)
        v |= static_cast<std::uint64_t>(m_data[m_pos + i]) << (8 * i);
    m_pos += 8;
    return true;
}

bool Reader::i32le(std::int32_t& v) {
    std::uint32_t u = 0;
    if (!u32le(u)) return false;
    v = static_cast<std::int32_t>(u);
    return true;
}

bool Reader::i64le(std::int64_t& v) {
    std::uint64_t u = 0;
    if (!u64le(u)) return false;
    v = static_cast<std::int64_t>(u);
    return true;
}

bool Reader::compact_size(std::uint64_t& v) {
    m_non_minimal = false;
    std::uint8_t first = 0;
    if (!u8(first)) return false;
    if (first < 0xfd) {
        v = first;
        return true;
    }
    if (first == 0xfd) {
        if (remaining() < 2) return false;
        v = static_cast<std::uint64_t>(m_data[m_pos]) |
            static_cast<std::uint64_t>(m_data[m_pos + 1]) << 8;
        m_pos += 2;
        m_non_minimal = v < 0xfd;
    } else if (first == 0xfe) {
        std::uint32_t w = 0;
        if (!u32le(w)) return false;
        v = w;
        m_non_minimal = v <= 0xffff;
    } else {
        if (!u64le(v)) return false;
        m_non_minimal = v <= 0xffffffffULL;
    }
    return !m_non_minimal;
}

bool Reader::bytes(std::size_t n, ByteSpan& out) {
    if (remaining() < n) return false;
    out = m_data.subspan(m_pos, n);
    m_pos += n;
    return true;
}

bool Reader::skip(std::size_t n) {
    if (remaining() < n) return false;
    m_pos += n;
    return true;
}

}  // namespace raregen::chain
