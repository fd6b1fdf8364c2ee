#pragma once
// Helpers for the ingest tests: deterministic keys, a valid record, and
// signing an intent the way a client does (JCS -> SHA-256 -> DER -> base64),
// with knobs to produce every kind of bad intent.

#include <simdjson.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "engine/chain/bytes.h"
#include "engine/chain/ecdsa.h"
#include "engine/chain/hash.h"
#include "engine/chain/keys.h"
#include "engine/model/wall_time.h"
#include "stages/ingest/base64.h"
#include "stages/ingest/jcs.h"

namespace raregen::ingest::test {

using OJson = nlohmann::ordered_json;

// prefix + decimal i. (GCC 12 -Wrestrict misfires on `"lit" + std::to_string(i)`.)
inline std::string numbered(std::string_view prefix, long long i) {
    std::string s(prefix);
    s += std::to_string(i);
    return s;
}

// 2024-05-01T12:00:00Z, the tests' "now".
inline constexpr std::int64_t k_now_unix = 1714564800;
inline WallTime test_now() {
    return WallTime{std::chrono::seconds{k_now_unix}};
}

struct TestSigner {
    chain::PrivateKey key;
    chain::PublicKey pub;
    std::string pub_hex;
};

// A fixed key per `tag` (secret = tag repeated), so failures reproduce.
inline TestSigner make_signer(std::uint8_t tag) {
    std::array<std::uint8_t, 32> secret{};
    secret.fill(tag);
    auto key = chain::PrivateKey::from_bytes(secret);
    if (!key) throw std::logic_error("bad test key");
    TestSigner s{*key, chain::public_key_of(*key, true), {}};
    s.pub_hex = chain::to_hex(s.pub.span());
    return s;
}

inline OJson base_record(std::string nonce = "nonce-0001",
                         std::string timestamp = "2024-05-01T11:59:30.250Z",
                         std::string record_id = "rec-0001") {
    return OJson{
        {"type", "music"},
        {"assetId", "asset-7f3c2a91"},
        {"recordId", record_id},
        {"event", "REGISTER"},
        {"timestamp", timestamp},
        {"owners",
         OJson::array({OJson{{"partyId", "party-1"}, {"role", "composer"}, {"shareBps", 6000}},
                       OJson{{"partyId", "party-2"}, {"role", "publisher"}, {"shareBps", 4000}}})},
        {"distribution",
         OJson{{"cdnUrl", "https://cdn.example.com/a/master.flac"},
               {"sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
               {"contentType", "audio/flac"}}},
        {"terms", OJson{{"territory", "WW"},
                        {"rights", OJson::array({"stream", "download"})},
                        {"mechanical", 0.091}}},
        {"nonce", nonce},
    };
}

// JCS(record text) through the project's canonicalizer.
inline std::string jcs_of(const std::string& text) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(text).get(root) != simdjson::SUCCESS) throw std::logic_error("bad json");
    Canonicalizer c;
    std::string out;
    if (c.canonicalize(root, out) != JcsStatus::ok) throw std::logic_error("jcs failed");
    return out;
}

inline chain::Hash256 record_digest(const OJson& record) {
    const std::string canon = jcs_of(record.dump());
    return chain::sha256(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(canon.data()), canon.size()));
}

// The secp256k1 group order n, big-endian.
inline constexpr std::array<std::uint8_t, 32> k_order = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};

// Re-encodes a low-S DER signature with s replaced by n - s (high-S): as
// valid mathematically, refused by libsecp256k1's strict verify.
inline chain::Bytes to_high_s(chain::ByteSpan der) {
    // 30 L 02 rl r... 02 sl s...
    const std::size_t rl = der[3];
    const std::size_t s_at = 4 + rl + 2;
    const std::size_t sl = der[4 + rl + 1];
    std::array<std::uint8_t, 32> s{};
    const std::size_t skip = sl > 32 ? sl - 32 : 0;
    for (std::size_t i = skip; i < sl; ++i)
        s[32 - (sl - i)] = der[s_at + i];
    std::array<std::uint8_t, 32> hs{};
    int borrow = 0;
    for (int i = 31; i >= 0; --i) {
        int d = int{k_order[static_cast<std::size_t>(i)]} - s[static_cast<std::size_t>(i)] - borrow;
        borrow = d < 0 ? 1 : 0;
        hs[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(d + (borrow ? 256 : 0));
    }
    chain::Bytes out{0x30, 0};
    const auto put_int = [&out](const std::uint8_t* p, std::size_t n) {
        while (n > 1 && *p == 0 && !(p[1] & 0x80)) {
            ++p;
            --n;
        }
        out.push_back(0x02);
        const bool pad = (*p & 0x80) != 0;
        out.push_back(static_cast<std::uint8_t>(n + (pad ? 1 : 0)));
        if (pad) out.push_back(0);
        out.insert(out.end(), p, p + n);
    };
    put_int(der.data() + 4, rl);
    put_int(hs.data(), 32);
    out[1] = static_cast<std::uint8_t>(out.size() - 2);
    return out;
}

// The old RareGen service's canonical text, written here without the
// engine's canonicalizer: JSON.stringify of the record rebuilt with
// Object.keys(o).sort(), where JavaScript lists array-index keys ("9",
// "2024") first in numeric order. For ASCII keys and the values these tests
// use (integers, short decimals, plain strings), nlohmann's dump writes
// each value as JSON.stringify does.
inline bool js_index_key(const std::string& k) {
    if (k.empty() || k.size() > 10 || (k.size() > 1 && k[0] == '0')) return false;
    for (char c : k)
        if (c < '0' || c > '9') return false;
    return std::stoull(k) < 0xffffffffULL;
}
inline std::string old_service_form(const OJson& v) {
    if (v.is_array()) {
        std::string out = "[";
        for (std::size_t i = 0; i < v.size(); ++i)
            out += (i ? "," : "") + old_service_form(v[i]);
        return out + "]";
    }
    if (!v.is_object()) return v.dump();
    std::vector<std::string> keys;
    for (auto it = v.begin(); it != v.end(); ++it)
        keys.push_back(it.key());
    std::sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
        const bool ia = js_index_key(a), ib = js_index_key(b);
        if (ia != ib) return ia;
        if (ia) return std::stoull(a) < std::stoull(b);
        return a < b;
    });
    std::string out = "{";
    for (std::size_t i = 0; i < keys.size(); ++i)
        out += (i ? "," : "") + OJson(keys[i]).dump() + ":" + old_service_form(v[keys[i]]);
    return out + "}";
}
inline chain::Hash256 old_service_digest(const OJson& record) {
    const std::string text = old_service_form(record);
    return chain::sha256(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

struct SignOptions {
    std::string alg = "ecdsa-secp256k1";
    enum class Hash { hex, name, none } hash = Hash::hex;
    bool high_s = false;
    bool url_safe_unpadded = false;
    bool old_service_form = false;  // sign the old service's text, not RFC 8785's
};

// An intent for `record`, signed over JCS(record) (or the old service's form)
// by `signer`.
inline OJson make_intent(const OJson& record, const TestSigner& signer, SignOptions o = {}) {
    const chain::Hash256 digest =
        o.old_service_form ? old_service_digest(record) : record_digest(record);
    chain::DerSignature der;
    if (!chain::Secp256k1::for_this_thread().sign(digest, signer.key, der)) {
        throw std::logic_error("sign failed");
    }
    chain::Bytes sig(der.span().begin(), der.span().end());
    if (o.high_s) sig = to_high_s(sig);
    std::string b64;
    base64_append(sig, b64);
    if (o.url_safe_unpadded) {
        while (!b64.empty() && b64.back() == '=')
            b64.pop_back();
        for (char& c : b64)
            c = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    OJson signature{{"alg", o.alg}};
    if (o.hash == SignOptions::Hash::hex) signature["hash"] = chain::to_hex(digest);
    if (o.hash == SignOptions::Hash::name) signature["hash"] = "sha256";
    signature["sig"] = b64;
    return OJson{{"protocol", "sl-drm"},
                 {"version", 1},
                 {"record", record},
                 {"signer", OJson{{"pubkey", signer.pub_hex}}},
                 {"signature", signature}};
}

// A temporary file removed when destroyed.
class TempFile {
  public:
    explicit TempFile(std::string_view content = {}) {
        char name[] = "/tmp/raregen_ingest_test_XXXXXX";
        const int fd = ::mkstemp(name);
        if (fd < 0) throw std::runtime_error("mkstemp failed");
        m_path = name;
        std::size_t off = 0;
        while (off < content.size()) {
            const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
            if (n <= 0) throw std::runtime_error("write failed");
            off += static_cast<std::size_t>(n);
        }
        ::close(fd);
    }
    ~TempFile() { ::unlink(m_path.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return m_path; }

  private:
    std::string m_path;
};

}  // namespace raregen::ingest::test
