#include "engine/model/job.h"

#include <cstring>
#include <optional>

namespace raregen::model {

std::string_view fail_code_name(FailCode c) noexcept {
    switch (c) {
        case FailCode::none:
            return "none";
        case FailCode::no_utxo:
            return "no_utxo";
        case FailCode::build_failed:
            return "build_failed";
        case FailCode::storage_refused:
            return "storage_refused";
        case FailCode::sink_refused:
            return "sink_refused";
    }
    return "unknown";
}

// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (any case).
std::optional<JobId> JobId::parse(std::string_view text) noexcept {
    if (text.size() != 36) return std::nullopt;
    JobId id;
    std::size_t b = 0;
    for (std::size_t i = 0; i < text.size();) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') return std::nullopt;
            ++i;
            continue;
        }
        auto nib = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        const int hi = nib(text[i]), lo = nib(text[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        id.bytes[b++] = static_cast<std::uint8_t>(hi << 4 | lo);
        i += 2;
    }
    return id;
}

void JobId::format(std::array<char, 36>& out) const noexcept {
    static constexpr char k_hex[] = "0123456789abcdef";
    std::size_t o = 0;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = k_hex[bytes[i] >> 4];
        out[o++] = k_hex[bytes[i] & 0x0f];
    }
}

std::string JobId::to_string() const {
    std::array<char, 36> text;
    format(text);
    return std::string(text.data(), text.size());
}

bool TxBytes::assign(chain::ByteSpan data) noexcept {
    if (data.size() > bytes.size()) {
        size = 0;
        return false;
    }
    std::memcpy(bytes.data(), data.data(), data.size());
    size = static_cast<std::uint16_t>(data.size());
    return true;
}

}  // namespace raregen::model

#include "engine/model/facts.h"

namespace raregen::model {

std::string_view fact_kind_name(FactKind k) {
    switch (k) {
        case FactKind::job_accepted:
            return "job_accepted";
        case FactKind::job_batched:
            return "job_batched";
        case FactKind::batch_closed:
            return "batch_closed";
        case FactKind::tx_signed:
            return "tx_signed";
        case FactKind::tx_released:
            return "tx_released";
        case FactKind::tx_sent:
            return "tx_sent";
        case FactKind::job_failed:
            return "job_failed";
    }
    return "unknown";
}

}  // namespace raregen::model
