#include "stages/ingest/base64.h"

#include <array>

namespace raregen::ingest {

namespace {

constexpr std::uint8_t k_invalid = 0xff;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
    std::array<std::uint8_t, 256> t{};
    for (auto& v : t)
        v = k_invalid;
    for (int i = 0; i < 26; ++i) {
        t[static_cast<std::size_t>('A' + i)] = static_cast<std::uint8_t>(i);
        t[static_cast<std::size_t>('a' + i)] = static_cast<std::uint8_t>(26 + i);
    }
    for (int i = 0; i < 10; ++i)
        t[static_cast<std::size_t>('0' + i)] = static_cast<std::uint8_t>(52 + i);
    t['+'] = 62;
    t['/'] = 63;
    t['-'] = 62;  // URL-safe alphabet
    t['_'] = 63;
    return t;
}
constexpr std::array<std::uint8_t, 256> k_decode = make_decode_table();

constexpr char k_encode[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::optional<std::size_t> base64_decode(std::string_view text,
                                         std::span<std::uint8_t> out) noexcept {
    // Strip correct padding: it may only complete the last 4-character group.
    std::size_t pad = 0;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=')
        ++pad;
    const std::size_t n = text.size() - pad;
    if (pad != 0 && (text.size() % 4 != 0)) return std::nullopt;
    if (n % 4 == 1) return std::nullopt;
    const std::size_t bytes = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (pad != 0 && (n % 4 == 0 || 4 - n % 4 != pad)) return std::nullopt;
    if (bytes > out.size()) return std::nullopt;

    std::size_t o = 0;
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t v = k_decode[static_cast<unsigned char>(text[i])];
        if (v == k_invalid) return std::nullopt;
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = static_cast<std::uint8_t>(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return o;
}

void base64_append(std::span<const std::uint8_t> data, std::string& out) {
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        const std::uint32_t v =
            std::uint32_t{data[i]} << 16 | std::uint32_t{data[i + 1]} << 8 | data[i + 2];
        out.push_back(k_encode[v >> 18]);
        out.push_back(k_encode[(v >> 12) & 63]);
        out.push_back(k_encode[(v >> 6) & 63]);
        out.push_back(k_encode[v & 63]);
    }
    const std::size_t rest = data.size() - i;
    if (rest == 0) return;
    std::uint32_t v = std::uint32_t{data[i]} << 16;
    if (rest == 2) v |= std::uint32_t{data[i + 1]} << 8;
    out.push_back(k_encode[v >> 18]);
    out.push_back(k_encode[(v >> 12) & 63]);
    out.push_back(rest == 2 ? k_encode[(v >> 6) & 63] : '=');
    out.push_back('=');
}

}  // namespace raregen::ingest
