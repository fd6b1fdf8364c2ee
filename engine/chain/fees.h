#pragma once
// Fee rates (docs/protocol.md §4): satoshis per `bytes` of standard (non-EF)
// size, rounded up, never below 1 satoshi.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace raregen::chain {

struct FeeRate {
    std::uint64_t satoshis = 100;  // miners' 2026 minimum: 100 sat per 1000 bytes
    std::uint64_t bytes = 1000;

    // max(1, ceil(size * satoshis / bytes)). Precondition: bytes > 0.
    std::uint64_t fee_for(std::uint64_t standard_size) const {
        const std::uint64_t fee = (standard_size * satoshis + bytes - 1) / bytes;
        return fee < 1 ? 1 : fee;
    }
    // True if this rate charges at least as much as `other` for every size.
    // Rates from parse_fee_rate() keep both parts under 2^31, so the products fit.
    bool at_least(const FeeRate& other) const {
        return satoshis * other.bytes >= other.satoshis * bytes;
    }
    std::string to_string() const { return std::to_string(satoshis) + "/" + std::to_string(bytes); }
};

// "SATS/BYTES" (e.g. "100/1000") or "SATS" (per 1000 bytes). nullopt if
// malformed, if bytes is 0, or if the numbers could overflow a fee computation.
std::optional<FeeRate> parse_fee_rate(std::string_view text);

}  // namespace raregen::chain
