#include "stages/send/arc_answer.h"

#include <algorithm>
#include <cstring>

namespace raregen::send {

namespace dom = simdjson::dom;

namespace {

bool refused_status(std::string_view s) noexcept {
    return s == "REJECTED" || s == "DOUBLE_SPEND_ATTEMPTED";
}

}  // namespace

bool arc_status_accepted(std::string_view s) noexcept {
    // docs/protocol.md §5, in order; SEEN_IN_ORPHAN_MEMPOOL (a parent missing),
    // MINED_IN_STALE_BLOCK, UNKNOWN and anything unheard of are no definite
    // answer.
    for (std::string_view ok :
         {"QUEUED", "RECEIVED", "STORED", "ANNOUNCED_TO_NETWORK", "REQUESTED_BY_NETWORK",
          "SENT_TO_NETWORK", "ACCEPTED_BY_NETWORK", "SEEN_ON_NETWORK", "MINED"})
        if (s == ok) return true;
    return false;
}

TextLine& TextLine::operator<<(std::string_view s) noexcept {
    const std::size_t n = std::min(s.size(), m_buf.size() - m_size);
    if (n == 0) return *this;  // s.data() may be null
    std::memcpy(m_buf.data() + m_size, s.data(), n);
    m_size += n;
    return *this;
}

TextLine& TextLine::operator<<(std::uint64_t v) noexcept {
    char tmp[24];
    std::size_t n = 0;
    do {
        tmp[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    std::reverse(tmp, tmp + n);
    return *this << std::string_view(tmp, n);
}

std::string_view arc_string(dom::object obj, std::string_view key) noexcept {
    std::string_view v;
    if (obj[key].get_string().get(v) != simdjson::SUCCESS) return {};
    return v;
}

std::int64_t arc_int(dom::object obj, std::string_view key) noexcept {
    dom::element e;
    if (obj[key].get(e) != simdjson::SUCCESS) return 0;
    std::int64_t i = 0;
    if (e.get_int64().get(i) == simdjson::SUCCESS) return i;
    double d = 0;
    // A double (or an integer beyond int64, which simdjson reads as one)
    // outside int64's range cannot be converted: the cast would be undefined
    // behaviour. No ARC status is that large; treat it as absent.
    if (e.get_double().get(d) == simdjson::SUCCESS && d > -9.0e18 && d < 9.0e18)
        return static_cast<std::int64_t>(d);
    return 0;
}

void arc_error_detail(TextLine& l, std::int64_t status, dom::object obj) noexcept {
    l << "ARC " << static_cast<std::uint64_t>(std::max<std::int64_t>(status, 0));
    const std::string_view title = arc_string(obj, "title");
    if (!title.empty()) l << " " << title;
    const std::string_view detail = arc_string(obj, "detail");
    const std::string_view extra = arc_string(obj, "extraInfo");
    if (!detail.empty()) l << ": " << detail;
    if (!extra.empty()) l << (detail.empty() ? ": " : " (") << extra << (detail.empty() ? "" : ")");
}

ArcEntry classify_arc_entry(dom::object obj) noexcept {
    ArcEntry e;
    const std::string_view tx_status = arc_string(obj, "txStatus");
    if (!tx_status.empty()) {
        e.tx_status = tx_status;
        const auto status = static_cast<std::uint16_t>(arc_int(obj, "status"));
        e.status = status == 0 ? 200 : status;
        if (refused_status(tx_status)) {
            e.detail << tx_status;
            if (tx_status == "DOUBLE_SPEND_ATTEMPTED") {
                dom::array competing;
                if (obj["competingTxs"].get_array().get(competing) == simdjson::SUCCESS) {
                    const char* sep = ": competing ";
                    for (dom::element c : competing) {
                        std::string_view t;
                        if (c.get_string().get(t) == simdjson::SUCCESS) {
                            e.detail << sep << t;
                            sep = ", ";
                        }
                    }
                }
            }
            const std::string_view extra = arc_string(obj, "extraInfo");
            if (!extra.empty()) e.detail << " (" << extra << ")";
            e.kind = ArcEntryKind::failed;
        } else if (arc_status_accepted(tx_status)) {
            e.kind = ArcEntryKind::sent;
        } else {
            // SEEN_IN_ORPHAN_MEMPOOL: a parent is missing (it may still
            // arrive); UNKNOWN: ARC has not taken it; MINED_IN_STALE_BLOCK
            // or a word ARC does not define: nothing definite. Send again.
            e.detail << "ARC answered " << tx_status;
            e.kind = ArcEntryKind::retry;
        }
        return e;
    }
    const std::int64_t status = arc_int(obj, "status");
    arc_error_detail(e.detail, status, obj);
    if (status == 465) {
        e.kind = ArcEntryKind::fee_too_low;
        e.status = 465;
    } else if (status == 409) {
        // ARC's "not yet formally classified" (its store was down, a
        // deadline passed): the tx may be stored. No verdict: again.
        e.kind = ArcEntryKind::retry;
        e.status = 409;
    } else if (status >= 400 && status < 500) {
        e.kind = ArcEntryKind::failed;
        e.status = static_cast<std::uint16_t>(status);
    } else {
        e.kind = ArcEntryKind::retry;
        e.status = static_cast<std::uint16_t>(std::max<std::int64_t>(status, 0));
    }
    return e;
}

bool parse_arc_json(dom::parser& parser, std::string_view padded, dom::element& root) noexcept {
    return parser.parse(padded.data(), padded.size(), false).get(root) == simdjson::SUCCESS;
}

bool arc_policy_fee(dom::element root, chain::FeeRate& out) noexcept {
    std::uint64_t sat = 0, bytes = 0;
    if (root["policy"]["miningFee"]["satoshis"].get_uint64().get(sat) != simdjson::SUCCESS ||
        root["policy"]["miningFee"]["bytes"].get_uint64().get(bytes) != simdjson::SUCCESS)
        return false;
    // Same bounds as parse_fee_rate, so fee arithmetic cannot overflow.
    if (bytes == 0 || sat >= (1u << 31) || bytes >= (1u << 31)) return false;
    out = chain::FeeRate{sat, bytes};
    return true;
}

}  // namespace raregen::send
