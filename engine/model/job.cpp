#include "engine/model/job.h"

#include <cstring>

namespace raregen::model {

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
