#include "tools/network/tx_scan.h"

#include <algorithm>
#include <cstdint>

namespace raregen::network {

namespace {

using chain::ParseErrorCode;

// Smallest encodings, to bound counts by the bytes left (as the parser does).
constexpr std::size_t k_min_input = 32 + 4 + 1 + 4;
constexpr std::size_t k_min_output = 8 + 1;

ParseErrorCode read_size(chain::Reader& r, std::uint64_t& v) {
    if (r.compact_size(v)) return ParseErrorCode::ok;
    return r.last_was_non_minimal() ? ParseErrorCode::non_minimal_size : ParseErrorCode::truncated;
}

ParseErrorCode skip_script(chain::Reader& r) {
    std::uint64_t len = 0;
    if (const ParseErrorCode c = read_size(r, len); c != ParseErrorCode::ok) return c;
    if (len > r.remaining()) return ParseErrorCode::length_too_large;
    r.skip(static_cast<std::size_t>(len));
    return ParseErrorCode::ok;
}

}  // namespace

ParseErrorCode scan_transaction_size(chain::ByteSpan data, std::size_t& size) {
    chain::Reader r(data);
    if (!r.skip(4)) return ParseErrorCode::truncated;
    bool extended = false;
    // Same rule as the parser: ten bytes exactly are a standard transaction.
    if (data.size() > 10 && std::equal(std::begin(chain::k_ef_marker), std::end(chain::k_ef_marker),
                                       data.begin() + 4)) {
        extended = true;
        r.skip(6);
    }
    std::uint64_t n_in = 0;
    if (const ParseErrorCode c = read_size(r, n_in); c != ParseErrorCode::ok) return c;
    if (n_in > r.remaining() / k_min_input) return ParseErrorCode::count_too_large;
    for (std::uint64_t i = 0; i < n_in; ++i) {
        if (!r.skip(36)) return ParseErrorCode::truncated;
        if (const ParseErrorCode c = skip_script(r); c != ParseErrorCode::ok) return c;
        if (!r.skip(4)) return ParseErrorCode::truncated;
        if (extended) {
            if (!r.skip(8)) return ParseErrorCode::truncated;
            if (const ParseErrorCode c = skip_script(r); c != ParseErrorCode::ok) return c;
        }
    }
    std::uint64_t n_out = 0;
    if (const ParseErrorCode c = read_size(r, n_out); c != ParseErrorCode::ok) return c;
    if (n_out > r.remaining() / k_min_output) return ParseErrorCode::count_too_large;
    for (std::uint64_t i = 0; i < n_out; ++i) {
        if (!r.skip(8)) return ParseErrorCode::truncated;
        if (const ParseErrorCode c = skip_script(r); c != ParseErrorCode::ok) return c;
    }
    if (!r.skip(4)) return ParseErrorCode::truncated;
    size = r.offset();
    return ParseErrorCode::ok;
}

}  // namespace raregen::network
