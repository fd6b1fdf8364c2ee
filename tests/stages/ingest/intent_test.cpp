#include "stages/ingest/intent.h"

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "tests/stages/ingest/intent_test_util.h"

namespace raregen::ingest {
namespace {

using namespace std::chrono_literals;
using test::base_record;
using test::make_intent;
using test::OJson;
using test::SignOptions;
using test::test_now;

class IntentTest : public ::testing::Test {
  protected:
    IntentTest()
        : a(test::make_signer(0x11)),
          b(test::make_signer(0x22)),
          revoked(test::make_signer(0x33)),
          stranger(test::make_signer(0x44)),
          nonces(1024, 15min),
          validator(nonces, registry) {
        EXPECT_TRUE(registry.add(key(a), SignerStatus::active));
        EXPECT_TRUE(registry.add(key(b), SignerStatus::active));
        EXPECT_TRUE(registry.add(key(revoked), SignerStatus::inactive));
    }

    static CompressedPubkey key(const test::TestSigner& s) {
        CompressedPubkey k{};
        std::copy(s.pub.bytes.begin(), s.pub.bytes.begin() + 33, k.begin());
        return k;
    }

    const IntentVerdict& run(const OJson& intent, WallTime now = test_now()) {
        text = intent.dump();
        return validator.validate(text, now);
    }

    void expect_reject(const OJson& intent, RejectReason reason, std::string_view field,
                       WallTime now = test_now()) {
        const IntentVerdict& v = run(intent, now);
        EXPECT_FALSE(v.accepted) << text;
        EXPECT_EQ(reject_reason_name(v.reason), reject_reason_name(reason)) << v.message.view();
        EXPECT_EQ(v.field.view(), field) << v.message.view();
        EXPECT_FALSE(v.message.empty());
    }

    test::TestSigner a, b, revoked, stranger;
    InMemorySignerRegistry registry;
    InMemoryNonceStore nonces;
    IntentValidator validator;
    std::string text;
};

TEST_F(IntentTest, AcceptsAValidIntentAndHashesTheCanonicalRecord) {
    const OJson record = base_record();
    const IntentVerdict& v = run(make_intent(record, a));
    ASSERT_TRUE(v.accepted) << v.message.view();
    EXPECT_EQ(v.record_hash, test::record_digest(record));
    EXPECT_EQ(v.canonical_record, test::jcs_of(record.dump()));
    // Canonical: keys sorted, no whitespace; 0.091 printed as ECMAScript does.
    EXPECT_EQ(v.canonical_record.substr(0, 40), R"({"assetId":"asset-7f3c2a91","distributio)");
    EXPECT_NE(v.canonical_record.find(R"("mechanical":0.091)"), std::string_view::npos);
    EXPECT_TRUE(v.record_id_known);
    EXPECT_EQ(v.record_id.view(), "rec-0001");
    EXPECT_EQ(v.timestamp, WallTime{std::chrono::seconds{test::k_now_unix - 30} + 250ms});
    EXPECT_EQ(std::vector<std::uint8_t>(v.pubkey.begin(), v.pubkey.end()),
              std::vector<std::uint8_t>(a.pub.bytes.begin(), a.pub.bytes.begin() + 33));

    model::Job job;
    v.fill_job(job);
    EXPECT_EQ(job.record_id.view(), "rec-0001");
    EXPECT_EQ(job.record_hash, test::record_digest(record));
    std::array<char, 64> hex;
    v.record_hash_hex(hex);
    EXPECT_EQ(std::string(hex.data(), 64), chain::to_hex(test::record_digest(record)));
}

TEST_F(IntentTest, RecordKeyOrderDoesNotMatterBecauseOfJcs) {
    const OJson record = base_record();
    OJson intent = make_intent(record, a);
    // Same members, reversed order at every level the client controls.
    OJson reordered;
    for (auto it = record.rbegin(); it != record.rend(); ++it)
        reordered[it.key()] = it.value();
    OJson terms;
    terms["mechanical"] = record["terms"]["mechanical"];
    terms["rights"] = record["terms"]["rights"];
    terms["territory"] = record["terms"]["territory"];
    reordered["terms"] = terms;
    ASSERT_NE(reordered.dump(), record.dump());
    intent["record"] = reordered;
    const IntentVerdict& v = run(intent);
    ASSERT_TRUE(v.accepted) << v.message.view();
    EXPECT_EQ(v.record_hash, test::record_digest(record));
}

TEST_F(IntentTest, NumberSpellingIsCanonicalized) {
    // The client signed 0.091; it sends 9.1e-2 and 6000.0: JCS maps both back.
    const OJson record = base_record();
    std::string sent = make_intent(record, a).dump();
    const auto at = sent.find("0.091");
    ASSERT_NE(at, std::string::npos);
    sent.replace(at, 5, "9.1e-2");
    const auto share = sent.find("6000");
    sent.replace(share, 4, "6000.0");
    const IntentVerdict& v = validator.validate(sent, test_now());
    ASSERT_TRUE(v.accepted) << v.message.view();
    EXPECT_EQ(v.record_hash, test::record_digest(record));
}

TEST_F(IntentTest, HighSSignatureIsAccepted) {
    const OJson record = base_record();
    SignOptions o;
    o.high_s = true;
    const OJson intent = make_intent(record, a, o);
    // The signature really is high-S: strict verification refuses it.
    std::array<std::uint8_t, 72> der{};
    const auto n = base64_decode(intent["signature"]["sig"].get<std::string>(), der);
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(chain::Secp256k1::for_this_thread().verify(
                  test::record_digest(record), std::span<const std::uint8_t>(der.data(), *n),
                  a.pub.span(), false),
              chain::VerifyError::high_s);
    const IntentVerdict& v = run(intent);
    EXPECT_TRUE(v.accepted) << v.message.view();
}

TEST_F(IntentTest, AcceptedVariants) {
    int i = 0;
    const auto accept = [&](OJson record, SignOptions o = {}) {
        record["nonce"] = test::numbered("variant-", ++i);
        const IntentVerdict& v = run(make_intent(record, a, o));
        EXPECT_TRUE(v.accepted) << text << "\n" << v.message.view();
    };
    SignOptions es;
    es.alg = "ES256K";
    accept(base_record(), es);
    SignOptions upper;
    upper.alg = "ECDSA-SECP256K1";
    upper.hash = SignOptions::Hash::name;
    accept(base_record(), upper);
    SignOptions nohash;
    nohash.hash = SignOptions::Hash::none;
    nohash.url_safe_unpadded = true;
    accept(base_record(), nohash);

    OJson r = base_record();
    r["timestamp"] = "2024-05-01T13:59:00+02:00";  // 11:59:00Z
    accept(r);
    r["timestamp"] = "2024-05-01t06:59:00.123456789-0500";
    accept(r);
    r = base_record();
    r["owners"][0]["shareBps"] = 10000;  // shares need not sum to 10000
    r["owners"][1]["shareBps"] = 0;
    accept(r);
    r = base_record();
    r["distribution"] = OJson::object();  // every distribution member optional
    r["terms"].erase("mechanical");
    r["extra"] = OJson{{"anything", OJson::array({1, 2})}};  // unknown members: signed, allowed
    accept(r);
    r = base_record();
    r["distribution"]["cdnUrl"] = nullptr;  // null optional = absent
    r["terms"]["mechanical"] = "see contract";
    accept(r);
    r = base_record();
    r["recordId"] = std::string(model::k_max_record_id, 'r');
    accept(r);

    // The intent's own extras: version as 1.0, signer.address, unknown members.
    OJson intent = make_intent(base_record("variant-x"), a);
    intent["signer"]["address"] = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT";
    intent["client"] = "test";
    std::string t = intent.dump();
    t.replace(t.find("\"version\":1"), 11, "\"version\":1.0");
    EXPECT_TRUE(validator.validate(t, test_now()).accepted)
        << validator.validate(t, test_now()).message.view();
}

TEST_F(IntentTest, SchemaRejectsNameTheField) {
    struct Case {
        const char* field;
        std::function<void(OJson&)> mutate;
    };
    const std::vector<Case> cases = {
        {"protocol", [](OJson& i) { i["protocol"] = "other"; }},
        {"protocol", [](OJson& i) { i.erase("protocol"); }},
        {"version", [](OJson& i) { i["version"] = 2; }},
        {"version", [](OJson& i) { i["version"] = "1"; }},
        {"record", [](OJson& i) { i["record"] = "x"; }},
        {"record.type", [](OJson& i) { i["record"]["type"] = "podcast"; }},
        {"record.assetId", [](OJson& i) { i["record"]["assetId"] = ""; }},
        {"record.recordId", [](OJson& i) { i["record"].erase("recordId"); }},
        {"record.recordId",
         [](OJson& i) { i["record"]["recordId"] = std::string(model::k_max_record_id + 1, 'r'); }},
        {"record.event", [](OJson& i) { i["record"]["event"] = "register"; }},
        {"record.timestamp", [](OJson& i) { i["record"]["timestamp"] = "2024-05-01T11:59:30"; }},
        {"record.timestamp", [](OJson& i) { i["record"]["timestamp"] = "2023-02-29T11:59:30Z"; }},
        {"record.timestamp", [](OJson& i) { i["record"]["timestamp"] = 1714564770; }},
        {"record.owners", [](OJson& i) { i["record"]["owners"] = OJson::array(); }},
        {"record.owners", [](OJson& i) { i["record"]["owners"] = OJson::object(); }},
        {"record.owners[1]", [](OJson& i) { i["record"]["owners"][1] = "party-2"; }},
        {"record.owners[0].partyId", [](OJson& i) { i["record"]["owners"][0].erase("partyId"); }},
        {"record.owners[1].role", [](OJson& i) { i["record"]["owners"][1]["role"] = 7; }},
        {"record.owners[1].shareBps",
         [](OJson& i) { i["record"]["owners"][1]["shareBps"] = 10001; }},
        {"record.owners[1].shareBps", [](OJson& i) { i["record"]["owners"][1]["shareBps"] = -1; }},
        {"record.owners[1].shareBps",
         [](OJson& i) { i["record"]["owners"][1]["shareBps"] = 12.5; }},
        {"record.owners[1].shareBps",
         [](OJson& i) { i["record"]["owners"][1]["shareBps"] = "4000"; }},
        {"record.distribution", [](OJson& i) { i["record"].erase("distribution"); }},
        {"record.distribution.sha256",
         [](OJson& i) { i["record"]["distribution"]["sha256"] = "abc"; }},
        {"record.distribution.cdnUrl", [](OJson& i) { i["record"]["distribution"]["cdnUrl"] = 5; }},
        {"record.terms.territory", [](OJson& i) { i["record"]["terms"].erase("territory"); }},
        {"record.terms.rights", [](OJson& i) { i["record"]["terms"]["rights"] = OJson::array(); }},
        {"record.terms.rights[1]", [](OJson& i) { i["record"]["terms"]["rights"][1] = 3; }},
        {"record.nonce", [](OJson& i) { i["record"]["nonce"] = ""; }},
        {"signer", [](OJson& i) { i.erase("signer"); }},
        {"signer.pubkey", [](OJson& i) { i["signer"]["pubkey"] = "04" + std::string(64, 'a'); }},
        {"signer.pubkey", [](OJson& i) { i["signer"]["pubkey"] = "02abc"; }},
        {"signer.address", [](OJson& i) { i["signer"]["address"] = 12; }},
        {"signature.alg", [](OJson& i) { i["signature"]["alg"] = "RS256"; }},
        {"signature.sig", [](OJson& i) { i["signature"].erase("sig"); }},
        {"signature.hash", [](OJson& i) { i["signature"]["hash"] = "md5"; }},
    };
    for (const Case& c : cases) {
        OJson intent = make_intent(base_record(), a);
        c.mutate(intent);
        SCOPED_TRACE(c.field);
        expect_reject(intent, RejectReason::schema, c.field);
    }
}

TEST_F(IntentTest, SchemaMessageIsHumanAndSpecific) {
    OJson intent = make_intent(base_record(), a);
    intent["record"]["owners"][1]["shareBps"] = 10001;
    const IntentVerdict& v = run(intent);
    EXPECT_EQ(v.message.view(), "record.owners[1].shareBps must be an integer 0..10000");
    EXPECT_TRUE(v.record_id_known);  // known even on reject, for the reject log
    EXPECT_EQ(v.record_id.view(), "rec-0001");
}

TEST_F(IntentTest, DuplicateKeysAreSchemaErrors) {
    const std::string good = make_intent(base_record(), a).dump();
    // A known top-level member twice.
    std::string t = good;
    t.insert(1, R"("protocol":"sl-drm",)");
    EXPECT_EQ(reject_reason_name(validator.validate(t, test_now()).reason), "schema");
    EXPECT_EQ(validator.validate(t, test_now()).field.view(), "protocol");
    // An unknown member twice inside the record: caught by JCS.
    t = good;
    t.insert(t.find("\"territory\""), R"("x":1,"x":2,)");
    const IntentVerdict& v = validator.validate(t, test_now());
    EXPECT_FALSE(v.accepted);
    EXPECT_EQ(reject_reason_name(v.reason), "schema");
    EXPECT_EQ(v.field.view(), "record");
}

TEST_F(IntentTest, NotJsonAndTooLarge) {
    expect_reject(OJson::array({1}), RejectReason::schema, "");
    const IntentVerdict& bad = validator.validate("{\"protocol\": ", test_now());
    EXPECT_EQ(reject_reason_name(bad.reason), "bad_json");
    EXPECT_FALSE(bad.record_id_known);

    InMemoryNonceStore store(16, 15min);
    ValidatorOptions small;
    small.max_intent_bytes = 512;
    IntentValidator tight(store, registry, small);
    const std::string big = make_intent(base_record(), a).dump();
    ASSERT_GT(big.size(), 512u);
    const IntentVerdict& v = tight.validate(big, test_now());
    EXPECT_EQ(reject_reason_name(v.reason), "too_large");
    EXPECT_NE(v.message.view().find("512"), std::string_view::npos);
}

TEST_F(IntentTest, TimestampAgeLimits) {
    // Exactly max_age old is accepted; one nanosecond more is stale.
    OJson r = base_record("age-1", "2024-05-01T11:50:00Z");
    EXPECT_TRUE(run(make_intent(r, a)).accepted);
    r = base_record("age-2", "2024-05-01T11:50:00Z");
    expect_reject(make_intent(r, a), RejectReason::stale, "record.timestamp", test_now() + 1ns);
    EXPECT_NE(validator.validate(text, test_now() + 1ns).message.view().find("600 s"),
              std::string_view::npos);
    r = base_record("age-3", "1999-01-01T00:00:00Z");
    expect_reject(make_intent(r, a), RejectReason::stale, "record.timestamp");
    // Up to max_future ahead is accepted, beyond is refused.
    r = base_record("age-4", "2024-05-01T12:05:00Z");
    EXPECT_TRUE(run(make_intent(r, a)).accepted);
    r = base_record("age-5", "2024-05-01T12:05:00.001Z");
    expect_reject(make_intent(r, a), RejectReason::future, "record.timestamp");
    r = base_record("age-6", "9999-12-31T23:59:59Z");
    expect_reject(make_intent(r, a), RejectReason::future, "record.timestamp");
}

TEST_F(IntentTest, ConfigurableLimits) {
    InMemoryNonceStore store(16, 2min);
    ValidatorOptions o;
    o.max_age = 1min;
    o.max_future = 0s;
    IntentValidator strict(store, registry, o);
    std::string t = make_intent(base_record("c-1", "2024-05-01T11:58:30Z"), a).dump();
    EXPECT_EQ(reject_reason_name(strict.validate(t, test_now()).reason), "stale");
    t = make_intent(base_record("c-2", "2024-05-01T12:00:00.5Z"), a).dump();
    EXPECT_EQ(reject_reason_name(strict.validate(t, test_now()).reason), "future");
    t = make_intent(base_record("c-3", "2024-05-01T11:59:30Z"), a).dump();
    EXPECT_TRUE(strict.validate(t, test_now()).accepted);
}

TEST_F(IntentTest, NonceReplayIsRefusedPerSigner) {
    const OJson intent = make_intent(base_record("n-1"), a);
    ASSERT_TRUE(run(intent).accepted);
    expect_reject(intent, RejectReason::nonce_replay, "record.nonce");
    // A different record by the same signer with the same nonce: still a replay.
    OJson other = base_record("n-1", "2024-05-01T11:59:40Z", "rec-0002");
    expect_reject(make_intent(other, a), RejectReason::nonce_replay, "record.nonce");
    // The same nonce is fine for another signer.
    EXPECT_TRUE(run(make_intent(base_record("n-1"), b)).accepted);
}

TEST_F(IntentTest, RejectedIntentsDoNotBurnTheNonce) {
    // A forgery: a's pubkey and a's next nonce, signed by someone else.
    OJson forged = make_intent(base_record("n-fresh"), stranger);
    forged["signer"]["pubkey"] = a.pub_hex;
    expect_reject(forged, RejectReason::bad_signature, "signature.sig");
    // Unregistered and revoked signers using the nonce do not burn it either
    // (nonces are per pubkey, but check both paths record nothing).
    expect_reject(make_intent(base_record("n-fresh"), stranger), RejectReason::unknown_signer,
                  "signer.pubkey");
    expect_reject(make_intent(base_record("n-fresh"), revoked), RejectReason::inactive_signer,
                  "signer.pubkey");
    // Stale with the same nonce: refused before anything is recorded.
    expect_reject(make_intent(base_record("n-fresh", "2024-05-01T11:00:00Z"), a),
                  RejectReason::stale, "record.timestamp");
    // The real client's intent still goes through.
    EXPECT_TRUE(run(make_intent(base_record("n-fresh"), a)).accepted);
    EXPECT_EQ(nonces.recorded_total(), 1u);
}

TEST_F(IntentTest, BadSignatureKinds) {
    // Record changed after signing (no hash field: the ECDSA check fails).
    SignOptions nohash;
    nohash.hash = SignOptions::Hash::none;
    OJson intent = make_intent(base_record("s-1"), a, nohash);
    intent["record"]["assetId"] = "asset-other";
    expect_reject(intent, RejectReason::bad_signature, "signature.sig");
    // Same, with the hash field: the hash comparison catches it first.
    intent = make_intent(base_record("s-2"), a);
    intent["record"]["assetId"] = "asset-other";
    expect_reject(intent, RejectReason::bad_signature, "signature.hash");
    // Upper-case hex of the right digest is fine.
    intent = make_intent(base_record("s-3"), a);
    std::string h = intent["signature"]["hash"];
    for (char& c : h)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    intent["signature"]["hash"] = h;
    EXPECT_TRUE(run(intent).accepted);
    // Not base64 / not DER / too long.
    intent = make_intent(base_record("s-4"), a);
    intent["signature"]["sig"] = "not base64!";
    expect_reject(intent, RejectReason::bad_signature, "signature.sig");
    intent["signature"]["sig"] = "AAAA";
    expect_reject(intent, RejectReason::bad_signature, "signature.sig");
    intent["signature"]["sig"] = std::string(100, 'A');
    expect_reject(intent, RejectReason::bad_signature, "signature.sig");
    // A pubkey that is not on the curve (x >= p).
    intent = make_intent(base_record("s-5"), a);
    intent["signer"]["pubkey"] = "02" + std::string(64, 'f');
    expect_reject(intent, RejectReason::bad_signature, "signer.pubkey");
}

TEST_F(IntentTest, SignerChecks) {
    expect_reject(make_intent(base_record("k-1"), stranger), RejectReason::unknown_signer,
                  "signer.pubkey");
    expect_reject(make_intent(base_record("k-2"), revoked), RejectReason::inactive_signer,
                  "signer.pubkey");
}

TEST_F(IntentTest, ChecksRunInTheSeedsOrder) {
    SignOptions nohash;
    nohash.hash = SignOptions::Hash::none;
    const auto tampered = [&](OJson record, const test::TestSigner& s) {
        OJson i = make_intent(record, s, nohash);
        i["record"]["assetId"] = "tampered";
        return i;
    };
    // schema before age
    OJson i = make_intent(base_record("o-1", "2024-05-01T11:00:00Z"), a);
    i["record"]["type"] = "podcast";
    expect_reject(i, RejectReason::schema, "record.type");
    // age before signature: stale + bad signature -> stale
    expect_reject(tampered(base_record("o-2", "2024-05-01T11:00:00Z"), a), RejectReason::stale,
                  "record.timestamp");
    // age before nonce: future + replayed nonce -> future
    ASSERT_TRUE(run(make_intent(base_record("o-3"), a)).accepted);
    expect_reject(make_intent(base_record("o-3", "2024-05-01T12:30:00Z"), a), RejectReason::future,
                  "record.timestamp");
    // nonce before signature: replayed nonce + bad signature -> nonce_replay
    expect_reject(tampered(base_record("o-3"), a), RejectReason::nonce_replay, "record.nonce");
    // signature before signer: bad signature by an unknown key -> bad_signature
    expect_reject(tampered(base_record("o-4"), stranger), RejectReason::bad_signature,
                  "signature.sig");
}

TEST_F(IntentTest, FullNonceStoreRefusesWithCapacity) {
    InMemoryNonceStore tiny(1, 15min);  // 8 slots
    IntentValidator v(tiny, registry);
    std::size_t accepted = 0;
    RejectReason last = RejectReason::schema;
    for (int i = 0; i < 20; ++i) {
        const std::string t = make_intent(base_record(test::numbered("cap-", i)), a).dump();
        const IntentVerdict& r = v.validate(t, test_now());
        if (r.accepted) {
            ++accepted;
        } else {
            last = r.reason;
            EXPECT_EQ(r.field.view(), "record.nonce");
        }
    }
    EXPECT_EQ(accepted, tiny.slot_count());
    EXPECT_EQ(reject_reason_name(last), "capacity");
    // Once the entries are past the retention they are reused.
    const std::string t = make_intent(base_record("cap-late", "2024-05-01T12:15:00Z"), a).dump();
    EXPECT_TRUE(v.validate(t, test_now() + 15min + 1s).accepted);
}

TEST(Iso8601, ParsesAndRefuses) {
    IsoTime t;
    ASSERT_TRUE(parse_iso8601("1970-01-01T00:00:00Z", t));
    EXPECT_EQ(t.seconds, 0);
    EXPECT_EQ(t.nanos, 0);
    ASSERT_TRUE(parse_iso8601("2024-05-01T12:00:00.5Z", t));
    EXPECT_EQ(t.seconds, test::k_now_unix);
    EXPECT_EQ(t.nanos, 500'000'000);
    ASSERT_TRUE(parse_iso8601("2024-05-01T14:30:00.1234567891+02:30", t));
    EXPECT_EQ(t.seconds, test::k_now_unix);
    EXPECT_EQ(t.nanos, 123'456'789);
    ASSERT_TRUE(parse_iso8601("2024-05-01T07:00:00-0500", t));
    EXPECT_EQ(t.seconds, test::k_now_unix);
    ASSERT_TRUE(parse_iso8601("2024-02-29T00:00:00z", t));
    ASSERT_TRUE(parse_iso8601("1969-12-31T23:59:59Z", t));
    EXPECT_EQ(t.seconds, -1);
    for (const char* bad :
         {"", "2024-05-01", "2024-05-01T12:00:00", "2024-05-01 12:00:00Z", "2024-13-01T00:00:00Z",
          "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-05-01T24:00:00Z",
          "2024-05-01T12:60:00Z", "2024-05-01T12:00:60Z", "2024-05-01T12:00:00.Z",
          "2024-05-01T12:00:00+24:00", "2024-05-01T12:00:00+02", "2024-05-01T12:00:00Zjunk",
          "2024-5-01T12:00:00Z", "+2024-05-01T12:00:00Z"}) {
        EXPECT_FALSE(parse_iso8601(bad, t)) << bad;
    }
}

// What the old service's clients send (its test-publish-signed.ts and
// generate-test-user.ts: alg "ecdsa" with the hex digest; its README: alg
// "bsv-ecdsa-secp256k1" with hash "sha256"), high-S included.
TEST_F(IntentTest, TheOldServicesClientsLabelsAreAccepted) {
    int n = 0;
    for (const char* alg : {"ecdsa", "ECDSA", "bsv-ecdsa-secp256k1", "BSV-ECDSA-SECP256K1"}) {
        for (auto hash : {SignOptions::Hash::hex, SignOptions::Hash::name}) {
            for (bool high_s : {false, true}) {
                const OJson record = base_record("nonce-alg-" + std::to_string(n++));
                SignOptions o;
                o.alg = alg;
                o.hash = hash;
                o.high_s = high_s;
                const IntentVerdict& v = run(make_intent(record, a, o));
                ASSERT_TRUE(v.accepted) << alg << ": " << v.message.view();
                EXPECT_EQ(v.record_hash, test::record_digest(record));
                EXPECT_EQ(v.canonical_form, model::CanonicalForm::rfc8785);
            }
        }
    }
}

TEST_F(IntentTest, AnUnknownAlgIsASchemaErrorListingTheAcceptedOnes) {
    SignOptions o;
    o.alg = "ed25519";
    const IntentVerdict& v = run(make_intent(base_record(), a, o));
    ASSERT_FALSE(v.accepted);
    EXPECT_EQ(v.reason, RejectReason::schema);
    EXPECT_EQ(v.field.view(), "signature.alg");
    for (std::string_view name : {"\"ecdsa\"", "\"bsv-ecdsa-secp256k1\"", "\"ecdsa-secp256k1\""})
        EXPECT_NE(v.message.view().find(name), std::string_view::npos) << v.message.view();
}

// A record with array-index keys ("2024", "10") has two texts: RFC 8785's
// and the old service's ("10" after "9"; JavaScript puts index keys first).
// A client of the old service signs the latter: accepted, and the hash
// published is the one it signed.
OJson record_with_index_keys(const std::string& nonce) {
    OJson r = base_record(nonce);
    r["terms"]["royaltiesByYear"] = OJson{{"2024", 12}, {"9", 3}, {"10", 7}, {"total", 22}};
    r["2"] = "top-level index key";
    return r;
}

TEST_F(IntentTest, ARecordSignedInTheOldServicesFormIsAcceptedWithThatHash) {
    int n = 0;
    for (auto hash : {SignOptions::Hash::hex, SignOptions::Hash::name, SignOptions::Hash::none}) {
        for (bool high_s : {false, true}) {
            const OJson record = record_with_index_keys("nonce-js-" + std::to_string(n++));
            ASSERT_NE(test::old_service_digest(record), test::record_digest(record));
            SignOptions o;
            o.alg = "ecdsa";
            o.hash = hash;
            o.high_s = high_s;
            o.old_service_form = true;
            const IntentVerdict& v = run(make_intent(record, a, o));
            ASSERT_TRUE(v.accepted) << v.message.view();
            EXPECT_EQ(v.record_hash, test::old_service_digest(record));
            EXPECT_EQ(v.canonical_form, model::CanonicalForm::javascript);
            EXPECT_EQ(v.canonical_record, test::old_service_form(record));
            model::Job job;
            v.fill_job(job);
            EXPECT_EQ(job.canonical_form, model::CanonicalForm::javascript);
            EXPECT_EQ(job.record_hash, test::old_service_digest(record));
        }
    }
    // The same record signed over RFC 8785 keeps RFC 8785.
    const OJson record = record_with_index_keys("nonce-js-rfc");
    const IntentVerdict& v = run(make_intent(record, a));
    ASSERT_TRUE(v.accepted) << v.message.view();
    EXPECT_EQ(v.record_hash, test::record_digest(record));
    EXPECT_EQ(v.canonical_form, model::CanonicalForm::rfc8785);
    EXPECT_EQ(v.canonical_record, test::jcs_of(record.dump()));
}

TEST_F(IntentTest, TamperingIsRefusedInEitherForm) {
    SignOptions o;
    o.alg = "ecdsa";
    o.old_service_form = true;
    // A value changed after signing.
    OJson intent = make_intent(record_with_index_keys("nonce-t1"), a, o);
    intent["record"]["terms"]["royaltiesByYear"]["10"] = 8;
    expect_reject(intent, RejectReason::bad_signature, "signature.hash");
    intent["signature"].erase("hash");
    expect_reject(intent, RejectReason::bad_signature, "signature.sig");
    // signature.hash names neither form's digest.
    OJson other = make_intent(record_with_index_keys("nonce-t2"), a, o);
    other["signature"]["hash"] = std::string(64, 'a');
    expect_reject(other, RejectReason::bad_signature, "signature.hash");
    // signature.hash names the old form, but the signature is over RFC 8785's.
    OJson crossed = make_intent(record_with_index_keys("nonce-t3"), a);
    crossed["signature"]["hash"] = chain::to_hex(test::old_service_digest(crossed["record"]));
    expect_reject(crossed, RejectReason::bad_signature, "signature.sig");
    // Another key's signature over the old form.
    OJson stolen = make_intent(record_with_index_keys("nonce-t4"), b, o);
    stolen["signer"]["pubkey"] = a.pub_hex;
    expect_reject(stolen, RejectReason::bad_signature, "signature.sig");
}

TEST(SignatureAlg, AcceptedNames) {
    EXPECT_TRUE(accepted_signature_alg("ecdsa"));
    EXPECT_TRUE(accepted_signature_alg("ECDSA"));
    EXPECT_TRUE(accepted_signature_alg("bsv-ecdsa-secp256k1"));
    EXPECT_TRUE(accepted_signature_alg("ecdsa-secp256k1"));
    EXPECT_TRUE(accepted_signature_alg("ES256K"));
    EXPECT_TRUE(accepted_signature_alg("es256k"));
    EXPECT_TRUE(accepted_signature_alg("secp256k1"));
    EXPECT_FALSE(accepted_signature_alg("ES256"));
    EXPECT_FALSE(accepted_signature_alg("ed25519"));
    EXPECT_FALSE(accepted_signature_alg(""));
}

TEST(RejectReasons, NamesAreDistinct) {
    std::set<std::string_view> names;
    for (std::size_t i = 0; i < k_reject_reasons; ++i) {
        names.insert(reject_reason_name(static_cast<RejectReason>(i)));
    }
    EXPECT_EQ(names.size(), k_reject_reasons);
    EXPECT_EQ(names.count("unknown"), 0u);
}

}  // namespace
}  // namespace raregen::ingest
