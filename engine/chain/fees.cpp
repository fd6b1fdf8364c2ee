#include "engine/chain/fees.h"

#include <charconv>

namespace raregen::chain {

namespace {
bool parse_u64(std::string_view s, std::uint64_t& v) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}
// Keeps size * satoshis inside 64 bits for any transaction up to 4 GB.
constexpr std::uint64_t k_max_rate_part = 1ULL << 31;
}  // namespace

std::optional<FeeRate> parse_fee_rate(std::string_view text) {
    FeeRate r;
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) {
        if (!parse_u64(text, r.satoshis)) return std::nullopt;
        r.bytes = 1000;
    } else if (!parse_u64(text.substr(0, slash), r.satoshis) ||
               !parse_u64(text.substr(slash + 1), r.bytes)) {
        return std::nullopt;
    }
    if (r.bytes == 0 || r.bytes > k_max_rate_part || r.satoshis > k_max_rate_part)
        return std::nullopt;
    return r;
}

}  // namespace raregen::chain
