#include "stages/ingest/intent.h"

#include <cstring>
#include <stdexcept>

#include "engine/chain/bytes.h"
#include "engine/chain/ecdsa.h"
#include "stages/ingest/base64.h"

namespace raregen::ingest {

namespace dom = simdjson::dom;

std::string_view reject_reason_name(RejectReason r) noexcept {
    switch (r) {
        case RejectReason::bad_json:
            return "bad_json";
        case RejectReason::too_large:
            return "too_large";
        case RejectReason::schema:
            return "schema";
        case RejectReason::stale:
            return "stale";
        case RejectReason::future:
            return "future";
        case RejectReason::nonce_replay:
            return "nonce_replay";
        case RejectReason::bad_signature:
            return "bad_signature";
        case RejectReason::unknown_signer:
            return "unknown_signer";
        case RejectReason::inactive_signer:
            return "inactive_signer";
        case RejectReason::capacity:
            return "capacity";
    }
    return "unknown";
}

namespace {

constexpr char k_hex_digits[] = "0123456789abcdef";
constexpr std::int64_t k_ns_per_s = 1'000'000'000;
// Beyond this distance from now (about 31 years) a timestamp is simply stale
// or future; below it, differences fit in int64 nanoseconds.
constexpr std::int64_t k_far_seconds = 1'000'000'000;

bool is_hex(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

bool all_hex(std::string_view s) noexcept {
    for (char c : s) {
        if (!is_hex(c)) return false;
    }
    return true;
}

enum class Find : std::uint8_t { absent, found, duplicate };

// Looks `key` up among all members of `obj`, noticing a second occurrence
// (simdjson's own lookup returns the first and ignores the rest).
Find find_member(dom::object obj, std::string_view key, dom::element& out) noexcept {
    Find r = Find::absent;
    for (dom::key_value_pair kv : obj) {
        if (kv.key == key) {
            if (r == Find::found) return Find::duplicate;
            out = kv.value;
            r = Find::found;
        }
    }
    return r;
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> options) noexcept {
    for (std::string_view o : options) {
        if (s == o) return true;
    }
    return false;
}

// Digits of `text` at [pos, pos + n) as a number; false if any is not a digit.
bool digits(std::string_view text, std::size_t pos, std::size_t n, int& out) noexcept {
    if (pos + n > text.size()) return false;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
        v = v * 10 + (text[i] - '0');
    }
    out = v;
    return true;
}

}  // namespace

bool parse_iso8601(std::string_view t, IsoTime& out) noexcept {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!digits(t, 0, 4, year) || t.size() < 19 || t[4] != '-' || !digits(t, 5, 2, month) ||
        t[7] != '-' || !digits(t, 8, 2, day) || (t[10] != 'T' && t[10] != 't') ||
        !digits(t, 11, 2, hour) || t[13] != ':' || !digits(t, 14, 2, minute) || t[16] != ':' ||
        !digits(t, 17, 2, second)) {
        return false;
    }
    std::size_t pos = 19;
    std::int32_t nanos = 0;
    if (pos < t.size() && t[pos] == '.') {
        ++pos;
        const std::size_t start = pos;
        std::int32_t scale = 100'000'000;
        while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
            nanos += (t[pos] - '0') * scale;  // digits past the ninth add 0
            scale /= 10;
            ++pos;
        }
        if (pos == start) return false;
    }
    int offset_seconds = 0;
    if (pos == t.size()) return false;  // no zone: ambiguous
    if (t[pos] == 'Z' || t[pos] == 'z') {
        ++pos;
    } else if (t[pos] == '+' || t[pos] == '-') {
        const int sign = t[pos] == '-' ? -1 : 1;
        int oh = 0, om = 0;
        if (!digits(t, pos + 1, 2, oh)) return false;
        pos += 3;
        if (pos < t.size() && t[pos] == ':') ++pos;
        if (!digits(t, pos, 2, om)) return false;
        pos += 2;
        if (oh > 23 || om > 59) return false;
        offset_seconds = sign * (oh * 3600 + om * 60);
    } else {
        return false;
    }
    if (pos != t.size()) return false;
    if (hour > 23 || minute > 59 || second > 59) return false;
    const std::chrono::year_month_day ymd{std::chrono::year{year},
                                          std::chrono::month{static_cast<unsigned>(month)},
                                          std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok()) return false;
    const std::int64_t days = std::chrono::sys_days{ymd}.time_since_epoch().count();
    out.seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
    out.nanos = nanos;
    return true;
}

bool accepted_signature_alg(std::string_view alg) noexcept {
    for (std::string_view name : k_signature_algs)
        if (iequals(alg, name)) return true;
    return false;
}

void IntentVerdict::fill_job(model::Job& job) const noexcept {
    job.record_id = record_id;
    job.record_hash = record_hash;
    job.canonical_form = canonical_form;
}

void IntentVerdict::record_hash_hex(std::array<char, 64>& out) const noexcept {
    for (std::size_t i = 0; i < record_hash.size(); ++i) {
        out[2 * i] = k_hex_digits[record_hash[i] >> 4];
        out[2 * i + 1] = k_hex_digits[record_hash[i] & 0x0f];
    }
}

IntentValidator::IntentValidator(NonceStore& nonces, const SignerRegistry& signers,
                                 ValidatorOptions options)
    : m_nonces(nonces), m_signers(signers), m_options(options) {
    if (m_options.max_age.count() <= 0) {
        throw std::invalid_argument("intent validator: max_age must be positive");
    }
    if (m_options.max_future.count() < 0) {
        throw std::invalid_argument("intent validator: max_future must not be negative");
    }
    if (m_options.max_intent_bytes < 64 || m_options.max_intent_bytes > (std::size_t{1} << 30)) {
        throw std::invalid_argument(
            "intent validator: max_intent_bytes must be between 64 bytes and 1 GiB");
    }
    if (m_options.max_depth < 8) {
        throw std::invalid_argument("intent validator: max_depth must be at least 8");
    }
    if (m_parser.allocate(m_options.max_intent_bytes, m_options.max_depth) != simdjson::SUCCESS ||
        m_doc.allocate(m_options.max_intent_bytes) != simdjson::SUCCESS) {
        throw std::bad_alloc();
    }
    const std::size_t buffer = m_options.max_intent_bytes + simdjson::SIMDJSON_PADDING;
    m_input = std::make_unique<char[]>(buffer);  // zeroed: the padding is read, never used
    m_canonical.reserve(2 * m_options.max_intent_bytes);
    m_canonical_js.reserve(2 * m_options.max_intent_bytes);
}

bool IntentValidator::reject(RejectReason reason) noexcept {
    m_verdict.accepted = false;
    m_verdict.reason = reason;
    return false;
}

namespace {

// Helpers that read one member and, on a schema problem, fill the verdict.
// `parent` is the path of `obj` ("" for the intent itself, "record", ...).
class SchemaReader {
  public:
    explicit SchemaReader(IntentVerdict& v) : m_v(v) {}

    bool fail(std::string_view parent, std::string_view key, std::string_view what) noexcept {
        m_v.reason = RejectReason::schema;
        set_field(parent, key);
        m_v.message.clear();
        m_v.message.append(m_v.field.view()).append(" ").append(what);
        return false;
    }

    // Required member: absent or duplicate fails.
    bool need(dom::object obj, std::string_view parent, std::string_view key,
              dom::element& out) noexcept {
        switch (find_member(obj, key, out)) {
            case Find::found:
                return true;
            case Find::absent:
                return fail(parent, key, "is required");
            case Find::duplicate:
                return fail(parent, key, "appears twice; send each member once");
        }
        return false;
    }

    // Optional member: returns false on a duplicate; sets `present` (a null
    // value counts as absent).
    bool maybe(dom::object obj, std::string_view parent, std::string_view key, dom::element& out,
               bool& present) noexcept {
        present = false;
        switch (find_member(obj, key, out)) {
            case Find::absent:
                return true;
            case Find::found:
                present = !out.is_null();
                return true;
            case Find::duplicate:
                return fail(parent, key, "appears twice; send each member once");
        }
        return false;
    }

    bool need_object(dom::object obj, std::string_view parent, std::string_view key,
                     dom::object& out) noexcept {
        dom::element e;
        if (!need(obj, parent, key, e)) return false;
        if (e.get_object().get(out) != simdjson::SUCCESS)
            return fail(parent, key, "must be an object");
        return true;
    }

    bool need_string(dom::object obj, std::string_view parent, std::string_view key,
                     std::string_view& out) noexcept {
        dom::element e;
        if (!need(obj, parent, key, e)) return false;
        if (e.get_string().get(out) != simdjson::SUCCESS || out.empty()) {
            return fail(parent, key, "must be a non-empty string");
        }
        return true;
    }

    bool optional_string(dom::object obj, std::string_view parent, std::string_view key,
                         std::string_view& out, bool& present) noexcept {
        dom::element e;
        if (!maybe(obj, parent, key, e, present)) return false;
        if (present && e.get_string().get(out) != simdjson::SUCCESS) {
            return fail(parent, key, "must be a string when present");
        }
        return true;
    }

    void set_field(std::string_view parent, std::string_view key) noexcept {
        m_v.field.clear();
        m_v.field.append(parent);
        if (!parent.empty() && !key.empty()) m_v.field.append(".");
        m_v.field.append(key);
    }

  private:
    IntentVerdict& m_v;
};

// "record.owners[3]"
FixedText<48> indexed(std::string_view base, std::size_t i) noexcept {
    FixedText<48> t;
    t.append(base).append("[").append_uint(i).append("]");
    return t;
}

// Integer 0..10000, allowing a number with a zero fraction (JavaScript has no
// distinct integer type, so 6000.0 is what 6000 is to the seed).
bool share_in_range(dom::element e) noexcept {
    std::int64_t i = 0;
    if (e.get_int64().get(i) == simdjson::SUCCESS) return i >= 0 && i <= 10000;
    std::uint64_t u = 0;
    if (e.get_uint64().get(u) == simdjson::SUCCESS) return u <= 10000;
    double d = 0;
    if (e.get_double().get(d) == simdjson::SUCCESS) {
        return d >= 0 && d <= 10000 && d == static_cast<double>(static_cast<std::int64_t>(d));
    }
    return false;
}

bool is_one(dom::element e) noexcept {
    std::int64_t i = 0;
    if (e.get_int64().get(i) == simdjson::SUCCESS) return i == 1;
    std::uint64_t u = 0;
    if (e.get_uint64().get(u) == simdjson::SUCCESS) return u == 1;
    double d = 0;
    if (e.get_double().get(d) == simdjson::SUCCESS) return d == 1.0;
    return false;
}

}  // namespace

const IntentVerdict& IntentValidator::validate(std::string_view text, WallTime now) noexcept {
    IntentVerdict& v = m_verdict;
    v.accepted = false;
    v.field.clear();
    v.message.clear();
    v.record_id_known = false;
    v.record_id = {};
    v.record_hash_known = false;
    v.canonical_record = {};
    v.canonical_form = model::CanonicalForm::rfc8785;
    m_cur = Current{};

    if (text.size() > m_options.max_intent_bytes) {
        v.message.append("the intent is ")
            .append_uint(text.size())
            .append(" bytes; the limit is ")
            .append_uint(m_options.max_intent_bytes)
            .append(" bytes: shrink the record");
        reject(RejectReason::too_large);
        return v;
    }
    std::memcpy(m_input.get(), text.data(), text.size());
    dom::element root;
    const simdjson::error_code err =
        m_parser.parse_into_document(m_doc, m_input.get(), text.size(), false).get(root);
    if (err != simdjson::SUCCESS) {
        v.message.append("the intent is not valid JSON (")
            .append(simdjson::error_message(err))
            .append("); send one JSON object per intent");
        reject(RejectReason::bad_json);
        return v;
    }
    if (!check_schema(root)) return v;
    // A stale or replayed intent may be a client's retry of one already
    // accepted: when it is correctly signed, its record's hash lets the
    // caller find that job. The reason stays the one the order gives.
    auto note_signed_record = [&] {
        const RejectReason reason = v.reason;
        const auto field = v.field;
        const auto message = v.message;
        v.field.clear();
        v.message.clear();
        v.record_hash_known = check_signature();
        v.field = field;
        v.message = message;
        reject(reason);
    };
    if (!check_age(now)) {
        note_signed_record();
        return v;
    }

    const std::span<const std::uint8_t> pubkey(v.pubkey);
    if (m_nonces.check(pubkey, m_cur.nonce, now)) {
        reject(RejectReason::nonce_replay);
        note_signed_record();
        v.field.append("record.nonce");
        v.message.append(
            "record.nonce was already used by this signer: sign each record with a "
            "fresh nonce (a replayed intent is refused)");
        reject(RejectReason::nonce_replay);
        return v;
    }
    if (!check_signature()) return v;

    switch (m_signers.lookup(pubkey)) {
        case SignerStatus::active:
            break;
        case SignerStatus::unknown:
            v.field.append("signer.pubkey");
            v.message.append(
                "signer.pubkey is not a registered signer: register the key before "
                "publishing with it");
            reject(RejectReason::unknown_signer);
            return v;
        case SignerStatus::inactive:
            v.field.append("signer.pubkey");
            v.message.append("signer.pubkey is registered but revoked: publish with an active key");
            reject(RejectReason::inactive_signer);
            return v;
    }

    switch (m_nonces.record(pubkey, m_cur.nonce, now)) {
        case NonceRecord::recorded:
            break;
        case NonceRecord::replay:
            v.field.append("record.nonce");
            v.message.append(
                "record.nonce was already used by this signer: sign each record with "
                "a fresh nonce (a replayed intent is refused)");
            reject(RejectReason::nonce_replay);
            return v;
        case NonceRecord::full:
            v.field.append("record.nonce");
            v.message.append(
                "the server cannot remember more nonces right now (its nonce store "
                "is full of live entries): retry in a few minutes; operators: raise "
                "the nonce capacity");
            reject(RejectReason::capacity);
            return v;
    }

    v.accepted = true;
    v.canonical_record =
        v.canonical_form == model::CanonicalForm::javascript ? m_canonical_js : m_canonical;
    v.timestamp =
        WallTime{std::chrono::nanoseconds{m_cur.ts_seconds * k_ns_per_s + m_cur.ts_nanos}};
    return v;
}

bool IntentValidator::check_schema(dom::element root) noexcept {
    IntentVerdict& v = m_verdict;
    SchemaReader r(v);
    v.reason = RejectReason::schema;
    dom::object top;
    if (root.get_object().get(top) != simdjson::SUCCESS) {
        v.message.append(
            "the intent must be a JSON object {protocol, version, record, signer, "
            "signature}");
        return false;
    }

    // Best effort, before anything can fail: the recordId, for reject logs.
    dom::element e;
    dom::object record;
    if (find_member(top, "record", e) == Find::found &&
        e.get_object().get(record) == simdjson::SUCCESS) {
        std::string_view id;
        dom::element id_el;
        if (find_member(record, "recordId", id_el) == Find::found &&
            id_el.get_string().get(id) == simdjson::SUCCESS && !id.empty() &&
            v.record_id.assign(id)) {
            v.record_id_known = true;
        }
    }

    std::string_view s;
    if (!r.need_string(top, "", "protocol", s)) return false;
    if (s != "sl-drm") return r.fail("", "protocol", "must be \"sl-drm\"");
    if (!r.need(top, "", "version", e)) return false;
    if (!is_one(e)) return r.fail("", "version", "must be the number 1");
    dom::element record_el;
    if (!r.need(top, "", "record", record_el)) return false;
    if (record_el.get_object().get(record) != simdjson::SUCCESS) {
        return r.fail("", "record", "must be an object");
    }
    if (!check_record(record)) return false;

    dom::object signer;
    if (!r.need_object(top, "", "signer", signer)) return false;
    std::string_view pubkey_hex;
    if (!r.need_string(signer, "signer", "pubkey", pubkey_hex)) return false;
    const auto pubkey = chain::from_hex_fixed<33>(pubkey_hex);
    if (!pubkey || ((*pubkey)[0] != 0x02 && (*pubkey)[0] != 0x03)) {
        return r.fail("signer", "pubkey",
                      "must be a compressed secp256k1 public key: 66 hex digits starting 02 or 03");
    }
    v.pubkey = *pubkey;
    bool present = false;
    if (!r.optional_string(signer, "signer", "address", s, present)) return false;

    dom::object signature;
    if (!r.need_object(top, "", "signature", signature)) return false;
    if (!r.need_string(signature, "signature", "alg", s)) return false;
    if (!accepted_signature_alg(s)) {
        return r.fail("signature", "alg",
                      "must name ECDSA over secp256k1 with a DER signature, one of (any case): "
                      "\"ecdsa\", \"ecdsa-secp256k1\", \"bsv-ecdsa-secp256k1\", \"ES256K\", "
                      "\"secp256k1\"");
    }
    if (!r.need_string(signature, "signature", "sig", m_cur.sig_b64)) return false;
    std::string_view hash;
    if (!r.optional_string(signature, "signature", "hash", hash, present)) return false;
    if (present) {
        if (hash.size() == 64 && all_hex(hash)) {
            m_cur.hash_field = hash;
        } else if (!iequals(hash, "sha256") && !iequals(hash, "sha-256")) {
            return r.fail("signature", "hash",
                          "must be the hex SHA-256 of JCS(record) (64 hex digits) or \"sha256\"");
        }
    }

    // Canonical form now: a duplicate key anywhere in the record is a schema
    // problem, and the signature step needs the bytes anyway.
    const JcsStatus jcs = m_canonicalizer.canonicalize(record_el, m_canonical);
    if (jcs != JcsStatus::ok) {
        v.field.clear();
        v.field.append("record");
        v.message.clear();
        v.message.append("record cannot be canonicalized (RFC 8785): ").append(describe(jcs));
        return false;
    }
    // The old service's form differs only when some key is an array index;
    // it is kept for the signature step (same checks: it cannot fail now).
    m_cur.has_javascript_form =
        m_canonicalizer.saw_array_index_key() &&
        m_canonicalizer.canonicalize(record_el, m_canonical_js, KeyOrder::javascript) ==
            JcsStatus::ok &&
        m_canonical_js != m_canonical;
    return true;
}

bool IntentValidator::check_record(dom::object record) noexcept {
    IntentVerdict& v = m_verdict;
    SchemaReader r(v);
    constexpr std::string_view k_rec = "record";
    std::string_view s;
    dom::element e;

    if (!r.need_string(record, k_rec, "type", s)) return false;
    if (!one_of(s, {"music", "movie", "book", "document"})) {
        return r.fail(k_rec, "type", "must be one of music|movie|book|document");
    }
    if (!r.need_string(record, k_rec, "assetId", s)) return false;
    if (!r.need_string(record, k_rec, "recordId", s)) return false;
    if (s.size() > model::k_max_record_id) {
        FixedText<96> what;
        what.append("must be at most ").append_uint(model::k_max_record_id).append(" bytes");
        return r.fail(k_rec, "recordId", what.view());
    }
    if (!r.need_string(record, k_rec, "event", s)) return false;
    if (!one_of(s, {"REGISTER", "UPDATE", "ASSIGN", "SPLIT_CHANGE"})) {
        return r.fail(k_rec, "event", "must be one of REGISTER|UPDATE|ASSIGN|SPLIT_CHANGE");
    }
    if (!r.need_string(record, k_rec, "timestamp", s)) return false;
    IsoTime ts;
    if (!parse_iso8601(s, ts)) {
        return r.fail(k_rec, "timestamp",
                      "must be an ISO 8601 date-time with a zone, e.g. 2024-05-01T12:34:56.789Z");
    }
    m_cur.ts_seconds = ts.seconds;
    m_cur.ts_nanos = ts.nanos;

    dom::array owners;
    if (!r.need(record, k_rec, "owners", e)) return false;
    if (e.get_array().get(owners) != simdjson::SUCCESS || owners.size() == 0) {
        return r.fail(k_rec, "owners", "must be a non-empty array of {partyId, role, shareBps}");
    }
    std::size_t i = 0;
    for (dom::element owner_el : owners) {
        const FixedText<48> path = indexed("record.owners", i++);
        dom::object owner;
        if (owner_el.get_object().get(owner) != simdjson::SUCCESS) {
            return r.fail(path.view(), "", "must be an object {partyId, role, shareBps}");
        }
        if (!r.need_string(owner, path.view(), "partyId", s)) return false;
        if (!r.need_string(owner, path.view(), "role", s)) return false;
        if (!r.need(owner, path.view(), "shareBps", e)) return false;
        if (!share_in_range(e))
            return r.fail(path.view(), "shareBps", "must be an integer 0..10000");
    }

    constexpr std::string_view k_dist = "record.distribution";
    dom::object dist;
    if (!r.need_object(record, k_rec, "distribution", dist)) return false;
    bool present = false;
    if (!r.optional_string(dist, k_dist, "cdnUrl", s, present)) return false;
    if (!r.optional_string(dist, k_dist, "sha256", s, present)) return false;
    if (present && (s.size() != 64 || !all_hex(s))) {
        return r.fail(k_dist, "sha256", "must be 64 hex digits (the file's SHA-256) when present");
    }
    if (!r.optional_string(dist, k_dist, "contentType", s, present)) return false;

    constexpr std::string_view k_terms = "record.terms";
    dom::object terms;
    if (!r.need_object(record, k_rec, "terms", terms)) return false;
    if (!r.need_string(terms, k_terms, "territory", s)) return false;
    dom::array rights;
    if (!r.need(terms, k_terms, "rights", e)) return false;
    if (e.get_array().get(rights) != simdjson::SUCCESS || rights.size() == 0) {
        return r.fail(k_terms, "rights", "must be a non-empty array of strings");
    }
    i = 0;
    for (dom::element right : rights) {
        const FixedText<48> path = indexed("record.terms.rights", i++);
        if (right.get_string().get(s) != simdjson::SUCCESS || s.empty()) {
            return r.fail(path.view(), "", "must be a non-empty string");
        }
    }
    if (!r.maybe(terms, k_terms, "mechanical", e, present)) return false;

    if (!r.need_string(record, k_rec, "nonce", m_cur.nonce)) return false;
    return true;
}

bool IntentValidator::check_age(WallTime now) noexcept {
    IntentVerdict& v = m_verdict;
    const std::int64_t now_ns = now.time_since_epoch().count();
    std::int64_t now_s = now_ns / k_ns_per_s;
    std::int64_t now_n = now_ns % k_ns_per_s;
    if (now_n < 0) {
        now_n += k_ns_per_s;
        --now_s;
    }
    const std::int64_t ds = m_cur.ts_seconds - now_s;
    bool stale = ds < -k_far_seconds;
    bool future = ds > k_far_seconds;
    std::int64_t diff_ns = 0;  // timestamp - now
    if (!stale && !future) {
        diff_ns = ds * k_ns_per_s + (m_cur.ts_nanos - now_n);
        stale = -diff_ns > m_options.max_age.count();
        future = diff_ns > m_options.max_future.count();
    }
    if (!stale && !future) return true;
    v.field.append("record.timestamp");
    if (stale) {
        v.message.append("record.timestamp is ");
        if (ds < -k_far_seconds) {
            v.message.append("decades");
        } else {
            v.message.append_uint(static_cast<std::uint64_t>(-diff_ns / k_ns_per_s)).append(" s");
        }
        v.message.append(" old; the limit is ")
            .append_uint(static_cast<std::uint64_t>(m_options.max_age.count() / k_ns_per_s))
            .append(" s: sign a fresh record with the current time (check the client's clock)");
        return reject(RejectReason::stale);
    }
    v.message.append("record.timestamp is ");
    if (ds > k_far_seconds) {
        v.message.append("decades");
    } else {
        v.message.append_uint(static_cast<std::uint64_t>(diff_ns / k_ns_per_s)).append(" s");
    }
    v.message.append(" in the future; at most ")
        .append_uint(static_cast<std::uint64_t>(m_options.max_future.count() / k_ns_per_s))
        .append(" s ahead is accepted: check the client's clock");
    return reject(RejectReason::future);
}

bool IntentValidator::check_signature() noexcept {
    IntentVerdict& v = m_verdict;
    std::array<std::uint8_t, 72> der{};
    const auto der_size = base64_decode(m_cur.sig_b64, der);
    if (!der_size || *der_size == 0) {
        v.field.append("signature.sig");
        v.message.append(
            "signature.sig must be base64 of a DER ECDSA signature (at most 72 bytes)");
        return reject(RejectReason::bad_signature);
    }
    const auto hash_of = [](const std::string& text) {
        return chain::sha256(std::span<const std::uint8_t>(
            reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    };
    const auto matches_hash_field = [&](const chain::Hash256& h) {
        for (std::size_t i = 0; i < h.size(); ++i) {
            if (lower(m_cur.hash_field[2 * i]) != k_hex_digits[h[i] >> 4] ||
                lower(m_cur.hash_field[2 * i + 1]) != k_hex_digits[h[i] & 0x0f])
                return false;
        }
        return true;
    };
    const std::span<const std::uint8_t> sig(der.data(), *der_size);
    auto& secp = chain::Secp256k1::for_this_thread();
    v.record_hash = hash_of(m_canonical);
    v.canonical_form = model::CanonicalForm::rfc8785;
    // The old service's form (see KeyOrder::javascript), where it differs:
    // signature.hash, if it names a digest, says which form was signed;
    // otherwise the form the signature verifies over.
    chain::Hash256 js_hash{};
    if (m_cur.has_javascript_form) js_hash = hash_of(m_canonical_js);
    bool try_javascript = m_cur.has_javascript_form;
    if (!m_cur.hash_field.empty()) {
        if (!matches_hash_field(v.record_hash)) {
            if (!try_javascript || !matches_hash_field(js_hash)) {
                std::array<char, 64> hex;
                v.record_hash_hex(hex);
                v.field.append("signature.hash");
                v.message
                    .append(
                        "signature.hash is not SHA-256 of the canonical record; hash the "
                        "RFC 8785 (JCS) form of record, which is ")
                    .append(std::string_view(hex.data(), hex.size()));
                return reject(RejectReason::bad_signature);
            }
            v.record_hash = js_hash;
            v.canonical_form = model::CanonicalForm::javascript;
        }
        try_javascript = false;
    }
    chain::VerifyError e = secp.verify(v.record_hash, sig, v.pubkey, /*allow_high_s=*/true);
    if (e == chain::VerifyError::bad_signature && try_javascript &&
        secp.verify(js_hash, sig, v.pubkey, /*allow_high_s=*/true) == chain::VerifyError::ok) {
        v.record_hash = js_hash;
        v.canonical_form = model::CanonicalForm::javascript;
        e = chain::VerifyError::ok;
    }
    switch (e) {
        case chain::VerifyError::ok:
            return true;
        case chain::VerifyError::bad_public_key:
            v.field.append("signer.pubkey");
            v.message.append(
                "signer.pubkey is not a point on secp256k1: send the signing key's "
                "compressed public key");
            break;
        case chain::VerifyError::bad_der:
        case chain::VerifyError::high_s:
            v.field.append("signature.sig");
            v.message.append("signature.sig is not a DER-encoded ECDSA signature");
            break;
        case chain::VerifyError::bad_signature:
            v.field.append("signature.sig");
            v.message.append(
                "signature does not verify for signer.pubkey over SHA-256 of the "
                "record's RFC 8785 (JCS) form: sign exactly that digest");
            break;
    }
    return reject(RejectReason::bad_signature);
}

}  // namespace raregen::ingest
