#include "engine/model/job.h"

#include "engine/chain/bytes.h"

#include <algorithm>
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
        case FailCode::network_rejected:
            return "network_rejected";
        case FailCode::double_spend:
            return "double_spend";
        case FailCode::fee_ceiling:
            return "fee_ceiling";
    }
    return "unknown";
}

std::string_view canonical_form_name(CanonicalForm f) noexcept {
    return f == CanonicalForm::javascript ? "javascript" : "rfc8785";
}

// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (any case).
std::optional<JobId> JobId::parse(std::string_view text) noexcept {
    if (text.size() != 36) return std::nullopt;
    std::array<char, 32> digits{};
    std::size_t n = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash_here != (text[i] == '-')) return std::nullopt;
        if (!dash_here) digits[n++] = text[i];
    }
    const auto bytes = chain::from_hex_fixed<16>(std::string_view(digits.data(), digits.size()));
    if (!bytes) return std::nullopt;
    JobId id;
    id.bytes = *bytes;
    return id;
}

std::string_view JobId::text(std::array<char, k_max_text>& out) const noexcept {
    if (!text_id.empty()) return text_id.view();
    static constexpr char k_hex[] = "0123456789abcdef";
    std::size_t o = 0;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = k_hex[bytes[i] >> 4];
        out[o++] = k_hex[bytes[i] & 0x0f];
    }
    return {out.data(), o};
}

std::string JobId::to_string() const {
    std::array<char, k_max_text> buffer;
    return std::string(text(buffer));
}

std::optional<JobId> JobId::from_stored(std::string_view text) noexcept {
    if (text.empty() || text.size() > k_max_text) return std::nullopt;
    if (auto uuid = parse(text)) {
        std::array<char, k_max_text> buffer;
        if (uuid->text(buffer) == text) return uuid;  // lowercase: written back the same
    }
    JobId id;
    id.text_id.assign(text);
    const chain::Hash256 digest = chain::sha256(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    std::copy_n(digest.begin(), id.bytes.size(), id.bytes.begin());
    return id;
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
        case FactKind::tx_resigned:
            return "tx_resigned";
    }
    return "unknown";
}

}  // namespace raregen::model
