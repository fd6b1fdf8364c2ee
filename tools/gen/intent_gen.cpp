#include "tools/gen/intent_gen.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "engine/chain/bytes.h"
#include "engine/chain/ecdsa.h"
#include "engine/chain/hash.h"
#include "stages/ingest/base64.h"

namespace raregen::ingest {

std::string_view generated_kind_name(GeneratedKind k) noexcept {
    switch (k) {
        case GeneratedKind::valid:
            return "valid";
        case GeneratedKind::bad_schema:
            return "bad_schema";
        case GeneratedKind::stale:
            return "stale";
        case GeneratedKind::replayed_nonce:
            return "replayed_nonce";
        case GeneratedKind::bad_signature:
            return "bad_signature";
        case GeneratedKind::unknown_signer:
            return "unknown_signer";
        case GeneratedKind::revoked_signer:
            return "revoked_signer";
    }
    return "unknown";
}

RejectReason expected_reason(GeneratedKind k) noexcept {
    switch (k) {
        case GeneratedKind::valid:
        case GeneratedKind::bad_schema:
            return RejectReason::schema;
        case GeneratedKind::stale:
            return RejectReason::stale;
        case GeneratedKind::replayed_nonce:
            return RejectReason::nonce_replay;
        case GeneratedKind::bad_signature:
            return RejectReason::bad_signature;
        case GeneratedKind::unknown_signer:
            return RejectReason::unknown_signer;
        case GeneratedKind::revoked_signer:
            return RejectReason::inactive_signer;
    }
    return RejectReason::schema;
}

namespace {

constexpr std::size_t k_invalid_kinds = k_generated_kinds - 1;
constexpr std::size_t k_schema_variants = 6;

struct Owner {
    std::string party;
    std::string role;
    int share_bps = 0;
};

void append_quoted(std::string& out, std::string_view s) {
    // Generated texts are ASCII without quotes or backslashes; JCS-escaping
    // keeps that true if that ever changes.
    if (!append_json_string(s, out)) throw std::logic_error("intent generator: non-UTF-8 text");
}

template <class T, std::size_t N>
const T& pick(std::mt19937_64& rng, const std::array<T, N>& options) {
    return options[std::uniform_int_distribution<std::size_t>(0, N - 1)(rng)];
}

}  // namespace

struct IntentGenerator::Record {
    std::string type;
    std::string asset_id;
    std::string record_id;
    std::string event;
    std::string timestamp;
    std::vector<Owner> owners;
    std::string cdn_url;
    std::string sha256;
    std::string content_type;
    std::string territory;
    std::vector<std::string> rights;
    std::string mechanical;  // number text, or empty for none
    std::string nonce;
    bool omit_record_id = false;
};

IntentGenerator::IntentGenerator(IntentGenOptions options)
    : m_options(options), m_rng(options.seed) {
    if (m_options.count == 0)
        throw std::invalid_argument("gen intents: the count must be at least 1");
    if (m_options.signers == 0)
        throw std::invalid_argument("gen intents: --signers must be at least 1");
    if (m_options.signers > 1'000'000) {
        throw std::invalid_argument("gen intents: --signers must be at most 1000000");
    }
    if (!(m_options.invalid_share >= 0.0 && m_options.invalid_share <= 1.0)) {
        throw std::invalid_argument("gen intents: --invalid-share must be between 0 and 1");
    }
    // The first line is always valid (a replay needs an original).
    const double want =
        std::floor(static_cast<double>(m_options.count) * m_options.invalid_share + 0.5);
    m_invalid_total = std::min(static_cast<std::size_t>(want), m_options.count - 1);
    m_invalid_left = m_invalid_total;

    m_active.reserve(m_options.signers);
    for (std::size_t i = 0; i < m_options.signers; ++i)
        m_active.push_back(make_signer());
    if (m_invalid_total != 0) {
        m_revoked.push_back(make_signer());
        m_unknown.push_back(make_signer());
    }
    if (m_parser.allocate(64 * 1024) != simdjson::SUCCESS) throw std::bad_alloc();
}

IntentGenerator::Signer IntentGenerator::make_signer() {
    Signer s{chain::PrivateKey::generate(), {}, {}, {}};
    s.pub = chain::public_key_of(s.key, true);
    s.pub_hex = chain::to_hex(s.pub.span());
    s.address = chain::p2pkh_address(chain::hash160(s.pub.span()), chain::Network::mainnet);
    return s;
}

std::string IntentGenerator::registry_text() const {
    std::string out =
        "# raregen signer registry: PUBKEY_HEX [active|revoked]  (written by raregen gen "
        "intents)\n";
    for (const Signer& s : m_active)
        out += s.pub_hex + " active\n";
    for (const Signer& s : m_revoked)
        out += s.pub_hex + " revoked\n";
    return out;
}

std::string IntentGenerator::signer_keys_text() const {
    std::string out = "# PUBKEY_HEX WIF STATUS  (secret: keep this file private)\n";
    const auto add = [&out](const Signer& s, std::string_view status) {
        out += s.pub_hex;
        out += ' ';
        out += chain::encode_wif(s.key, chain::Network::mainnet, true);
        out += ' ';
        out += status;
        out += '\n';
    };
    for (const Signer& s : m_active)
        add(s, "active");
    for (const Signer& s : m_revoked)
        add(s, "revoked");
    for (const Signer& s : m_unknown)
        add(s, "unregistered");
    if (!out.empty() && out.back() == '\n') out.pop_back();  // the writer adds the last newline
    return out;
}

std::vector<std::string> IntentGenerator::active_pubkeys_hex() const {
    std::vector<std::string> out;
    out.reserve(m_active.size());
    for (const Signer& s : m_active)
        out.push_back(s.pub_hex);
    return out;
}

std::string IntentGenerator::hex_bytes(std::size_t n) {
    chain::Bytes b(n);
    for (auto& x : b)
        x = static_cast<std::uint8_t>(m_rng());
    return chain::to_hex(b);
}

std::string IntentGenerator::timestamp_text(std::int64_t unix_ms, int offset_minutes) const {
    using namespace std::chrono;
    const sys_time<milliseconds> local{
        milliseconds{unix_ms + std::int64_t{offset_minutes} * 60'000}};
    const sys_days day = floor<days>(local);
    const year_month_day ymd{day};
    const hh_mm_ss<milliseconds> hms{local - day};
    char buf[48];
    int n = std::snprintf(
        buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03d", static_cast<int>(ymd.year()),
        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
        static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
        static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
    std::string out(buf, static_cast<std::size_t>(n));
    if (offset_minutes == 0) {
        out += 'Z';
    } else {
        const int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
        n = std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', a / 60,
                          a % 60);
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

IntentGenerator::Record IntentGenerator::random_record(bool stale) {
    static constexpr std::array<std::string_view, 4> k_types{"music", "movie", "book", "document"};
    static constexpr std::array<std::string_view, 4> k_events{"REGISTER", "UPDATE", "ASSIGN",
                                                              "SPLIT_CHANGE"};
    static constexpr std::array<std::string_view, 8> k_roles{"composer",   "lyricist", "publisher",
                                                             "performer",  "producer", "author",
                                                             "translator", "label"};
    static constexpr std::array<std::string_view, 8> k_territories{"WW", "US", "GB", "DE",
                                                                   "FR", "JP", "BR", "EU"};
    static constexpr std::array<std::string_view, 6> k_rights{"stream",  "download", "sync",
                                                              "perform", "print",    "broadcast"};
    static constexpr std::array<int, 5> k_offsets{60, 120, -300, 330, -180};
    std::uniform_int_distribution<int> percent(0, 99);

    Record r;
    r.type = pick(m_rng, k_types);
    const std::string asset = hex_bytes(16);
    r.asset_id = "asset-" + asset.substr(0, 8) + "-" + asset.substr(8, 4) + "-" +
                 asset.substr(12, 4) + "-" + asset.substr(16, 4) + "-" + asset.substr(20, 12);
    char seq[32];
    std::snprintf(seq, sizeof seq, "%09zu", m_emitted + 1);
    r.record_id = "rec-" + std::string(seq) + "-" + hex_bytes(4);
    r.event = pick(m_rng, k_events);

    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    m_options.timestamp.time_since_epoch())
                                    .count();
    const std::int64_t back_ms =
        stale ? std::uniform_int_distribution<std::int64_t>(20 * 60'000, 60 * 60'000)(m_rng)
              : std::uniform_int_distribution<std::int64_t>(0, 60'000)(m_rng);
    const int offset = percent(m_rng) < 10 ? pick(m_rng, k_offsets) : 0;
    r.timestamp = timestamp_text(now_ms - back_ms, offset);

    const int owners = std::uniform_int_distribution<int>(1, 3)(m_rng);
    int left = 10000;
    for (int i = 0; i < owners; ++i) {
        Owner o;
        o.party = "party-" + hex_bytes(6);
        o.role = pick(m_rng, k_roles);
        o.share_bps = i + 1 == owners ? left : std::uniform_int_distribution<int>(0, left)(m_rng);
        left -= o.share_bps;
        r.owners.push_back(std::move(o));
    }

    static constexpr std::array<std::string_view, 4> k_content{
        "audio/flac", "video/mp4", "application/epub+zip", "application/pdf"};
    static constexpr std::array<std::string_view, 4> k_ext{"flac", "mp4", "epub", "pdf"};
    std::size_t type_index = 0;
    while (k_types[type_index] != r.type)
        ++type_index;
    if (percent(m_rng) < 90) {
        r.cdn_url = "https://cdn.example.com/" + r.type + "/" + asset + "/master." +
                    std::string(k_ext[type_index]);
    }
    if (percent(m_rng) < 90) r.sha256 = hex_bytes(32);
    if (percent(m_rng) < 80) r.content_type = k_content[type_index];

    r.territory = pick(m_rng, k_territories);
    for (std::string_view right : k_rights) {
        if (percent(m_rng) < 50) r.rights.emplace_back(right);
    }
    if (r.rights.empty()) r.rights.emplace_back("stream");
    if (percent(m_rng) < 50) {
        // Written as clients might (0.090), canonicalized to 0.09 by JCS.
        const int milli = std::uniform_int_distribution<int>(1, 250)(m_rng);
        char buf[16];
        std::snprintf(buf, sizeof buf, "%d.%03d", milli / 1000, milli % 1000);
        r.mechanical = buf;
    }
    r.nonce = hex_bytes(16);
    return r;
}

std::string IntentGenerator::record_json(const Record& r) const {
    std::string j;
    j.reserve(1024);
    j += "{\"type\":";
    append_quoted(j, r.type);
    j += ",\"assetId\":";
    append_quoted(j, r.asset_id);
    if (!r.omit_record_id) {
        j += ",\"recordId\":";
        append_quoted(j, r.record_id);
    }
    j += ",\"event\":";
    append_quoted(j, r.event);
    j += ",\"timestamp\":";
    append_quoted(j, r.timestamp);
    j += ",\"owners\":[";
    for (std::size_t i = 0; i < r.owners.size(); ++i) {
        if (i != 0) j += ',';
        j += "{\"partyId\":";
        append_quoted(j, r.owners[i].party);
        j += ",\"role\":";
        append_quoted(j, r.owners[i].role);
        j += ",\"shareBps\":" + std::to_string(r.owners[i].share_bps) + "}";
    }
    j += "],\"distribution\":{";
    bool first = true;
    const auto member = [&](std::string_view key, const std::string& value) {
        if (value.empty()) return;
        if (!first) j += ',';
        first = false;
        append_quoted(j, key);
        j += ':';
        append_quoted(j, value);
    };
    member("cdnUrl", r.cdn_url);
    member("sha256", r.sha256);
    member("contentType", r.content_type);
    j += "},\"terms\":{\"territory\":";
    append_quoted(j, r.territory);
    j += ",\"rights\":[";
    for (std::size_t i = 0; i < r.rights.size(); ++i) {
        if (i != 0) j += ',';
        append_quoted(j, r.rights[i]);
    }
    j += ']';
    if (!r.mechanical.empty()) j += ",\"mechanical\":" + r.mechanical;
    j += "},\"nonce\":";
    append_quoted(j, r.nonce);
    j += '}';
    return j;
}

void IntentGenerator::write_intent(std::string_view record, const Signer& signer, bool tamper,
                                   std::string& line) {
    simdjson::dom::element root;
    if (m_parser.parse(record.data(), record.size(), true).get(root) != simdjson::SUCCESS ||
        m_canonicalizer.canonicalize(root, m_canonical) != JcsStatus::ok) {
        throw std::logic_error("intent generator: produced a record that does not canonicalize");
    }
    const chain::Hash256 digest = chain::sha256(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(m_canonical.data()), m_canonical.size()));
    chain::DerSignature der;
    if (!chain::Secp256k1::for_this_thread().sign(digest, signer.key, der)) {
        throw std::runtime_error("intent generator: signing failed");
    }
    std::string sent(record);
    bool hash_hex = std::uniform_int_distribution<int>(0, 3)(m_rng) != 0;
    if (tamper) {
        // Changed after signing: the asset id the signer approved is not the
        // one sent. Alternate between a stale hash field and none, so both the
        // hash comparison and the ECDSA check get exercised.
        const std::size_t at = sent.find("\"assetId\":\"");
        sent.insert(at + 11, "x");
        hash_hex = (m_invalid_emitted / k_invalid_kinds) % 2 == 0;
    }
    line.clear();
    line += "{\"protocol\":\"sl-drm\",\"version\":1,\"record\":";
    line += sent;
    line += ",\"signer\":{\"pubkey\":\"" + signer.pub_hex + "\",\"address\":\"" + signer.address +
            "\"},\"signature\":{\"alg\":";
    line +=
        std::uniform_int_distribution<int>(0, 4)(m_rng) == 0 ? "\"ES256K\"" : "\"ecdsa-secp256k1\"";
    line += ",\"hash\":\"";
    line += hash_hex ? chain::to_hex(digest) : std::string("sha256");
    line += "\",\"sig\":\"";
    base64_append(der.span(), line);
    line += "\"}}";
}

GeneratedKind IntentGenerator::next(std::string& line) {
    if (done()) throw std::logic_error("intent generator: next() after the last intent");
    // Selection sampling (Knuth's algorithm S): exactly m_invalid_total of the
    // positions 1..count-1, each subset equally likely.
    GeneratedKind kind = GeneratedKind::valid;
    if (m_emitted != 0 && m_invalid_left != 0) {
        const std::size_t remaining = m_options.count - m_emitted;
        if (std::uniform_int_distribution<std::size_t>(0, remaining - 1)(m_rng) < m_invalid_left) {
            kind = static_cast<GeneratedKind>(1 + m_invalid_emitted % k_invalid_kinds);
        }
    }

    const Signer& any_active =
        m_active[std::uniform_int_distribution<std::size_t>(0, m_active.size() - 1)(m_rng)];
    switch (kind) {
        case GeneratedKind::valid: {
            const Record r = random_record(false);
            write_intent(record_json(r), any_active, false, line);
            m_last_valid = line;
            break;
        }
        case GeneratedKind::bad_schema: {
            Record r = random_record(false);
            switch ((m_invalid_emitted / k_invalid_kinds) % k_schema_variants) {
                case 0:
                    r.owners.front().share_bps = 10001;
                    break;
                case 1:
                    r.omit_record_id = true;
                    break;
                case 2:
                    r.type = "podcast";
                    break;
                case 3:
                    r.timestamp.resize(19);
                    break;  // "YYYY-MM-DDTHH:MM:SS": no zone
                case 4:
                    r.owners.clear();
                    break;
                default:
                    r.sha256 = "abc123";
                    break;
            }
            write_intent(record_json(r), any_active, false, line);
            break;
        }
        case GeneratedKind::stale:
            write_intent(record_json(random_record(true)), any_active, false, line);
            break;
        case GeneratedKind::replayed_nonce:
            line = m_last_valid;
            break;
        case GeneratedKind::bad_signature:
            write_intent(record_json(random_record(false)), any_active, true, line);
            break;
        case GeneratedKind::unknown_signer:
            write_intent(record_json(random_record(false)), m_unknown.front(), false, line);
            break;
        case GeneratedKind::revoked_signer:
            write_intent(record_json(random_record(false)), m_revoked.front(), false, line);
            break;
    }
    if (kind != GeneratedKind::valid) {
        ++m_invalid_emitted;
        --m_invalid_left;
    }
    ++m_counts[static_cast<std::size_t>(kind)];
    ++m_emitted;
    return kind;
}

}  // namespace raregen::ingest
