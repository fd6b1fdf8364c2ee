#include "engine/model/signer_registry.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "engine/chain/bytes.h"

namespace raregen::ingest {

std::string_view signer_status_name(SignerStatus s) noexcept {
    switch (s) {
        case SignerStatus::unknown:
            return "unknown";
        case SignerStatus::active:
            return "active";
        case SignerStatus::inactive:
            return "inactive";
    }
    return "unknown";
}

std::size_t InMemorySignerRegistry::KeyHash::operator()(const CompressedPubkey& k) const noexcept {
    // Bytes 1.. are the x coordinate: already uniformly distributed.
    std::uint64_t h = 0;
    std::memcpy(&h, k.data() + 1, sizeof h);
    return static_cast<std::size_t>(h ^ k[0]);
}

bool InMemorySignerRegistry::add(const CompressedPubkey& pubkey, SignerStatus status) {
    if (status == SignerStatus::unknown) return false;
    const bool inserted = m_keys.emplace(pubkey, status).second;
    if (inserted && status == SignerStatus::active) ++m_active;
    return inserted;
}

void InMemorySignerRegistry::set(const CompressedPubkey& pubkey, SignerStatus status) {
    const auto it = m_keys.find(pubkey);
    const bool was_active = it != m_keys.end() && it->second == SignerStatus::active;
    if (status == SignerStatus::unknown) {
        if (it != m_keys.end()) m_keys.erase(it);
    } else if (it != m_keys.end()) {
        it->second = status;
    } else {
        m_keys.emplace(pubkey, status);
    }
    const bool is_active = status == SignerStatus::active;
    if (was_active && !is_active) --m_active;
    if (!was_active && is_active) ++m_active;
}

SignerStatus LiveSignerRegistry::lookup(std::span<const std::uint8_t> pubkey) const noexcept {
    std::shared_lock lock(m_mu);
    return m_keys.lookup(pubkey);
}

void LiveSignerRegistry::set(const CompressedPubkey& pubkey, SignerStatus status) {
    std::unique_lock lock(m_mu);
    m_keys.set(pubkey, status);
}

std::size_t LiveSignerRegistry::active_count() const {
    std::shared_lock lock(m_mu);
    return m_keys.active_count();
}

SignerStatus InMemorySignerRegistry::lookup(std::span<const std::uint8_t> pubkey) const noexcept {
    if (pubkey.size() != 33) return SignerStatus::unknown;
    CompressedPubkey k;
    std::memcpy(k.data(), pubkey.data(), k.size());
    const auto it = m_keys.find(k);
    return it == m_keys.end() ? SignerStatus::unknown : it->second;
}

namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

std::string_view next_field(std::string_view& line) {
    while (!line.empty() && is_blank(line.front()))
        line.remove_prefix(1);
    std::size_t n = 0;
    while (n < line.size() && !is_blank(line[n]))
        ++n;
    std::string_view f = line.substr(0, n);
    line.remove_prefix(n);
    return f;
}

std::string shorten(std::string_view s) {
    // Long enough for a whole public key; longer junk is cut.
    return s.size() <= 70 ? std::string(s) : std::string(s.substr(0, 67)) + "...";
}

}  // namespace

InMemorySignerRegistry::Loaded InMemorySignerRegistry::parse(std::string_view text,
                                                             std::string_view source) {
    InMemorySignerRegistry reg;
    std::size_t line_no = 0;
    const auto fail = [&](const std::string& what) {
        return Loaded{std::nullopt,
                      std::string(source) + ":" + std::to_string(line_no) + ": " + what};
    };
    while (!text.empty()) {
        ++line_no;
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) {
            line = line.substr(0, hash);
        }
        const std::string_view key_hex = next_field(line);
        if (key_hex.empty()) continue;
        const std::string_view status_text = next_field(line);
        const std::string_view extra = next_field(line);
        if (!extra.empty()) {
            return fail("unexpected third field '" + shorten(extra) +
                        "'; a line is `PUBKEY_HEX [active|revoked]` (comments start with #)");
        }
        if (key_hex.size() != 66) {
            return fail("public key '" + shorten(key_hex) + "' has " +
                        std::to_string(key_hex.size()) +
                        " characters; expected a compressed key of 66 hex digits (02/03 + 64)");
        }
        const auto key = chain::from_hex_fixed<33>(key_hex);
        if (!key) return fail("public key '" + shorten(key_hex) + "' is not hex");
        if ((*key)[0] != 0x02 && (*key)[0] != 0x03) {
            return fail("public key '" + shorten(key_hex) +
                        "' does not start with 02 or 03; only compressed keys sign intents");
        }
        SignerStatus status = SignerStatus::active;
        if (status_text.empty() || status_text == "active") {
            status = SignerStatus::active;
        } else if (status_text == "revoked" || status_text == "inactive") {
            status = SignerStatus::inactive;
        } else {
            return fail("unknown status '" + shorten(status_text) +
                        "'; use `active` or `revoked` (or leave it out for active)");
        }
        if (!reg.add(*key, status)) {
            return fail("public key " + shorten(key_hex) +
                        " is listed twice; keep one line per key");
        }
    }
    return Loaded{std::move(reg), {}};
}

InMemorySignerRegistry::Loaded InMemorySignerRegistry::load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return Loaded{std::nullopt, "cannot open signer registry '" + path +
                                        "': " + std::strerror(errno) +
                                        "; pass an existing file to --registered"};
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        return Loaded{std::nullopt, "cannot read signer registry '" + path + "'"};
    }
    return parse(text.str(), path);
}

}  // namespace raregen::ingest
