#include "stages/ingest/jcs.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace raregen::ingest {
namespace {

struct Canonical {
    JcsStatus status;
    std::string text;
};

// Parses `json` with simdjson and canonicalizes it; parse errors fail the test.
Canonical canonical(std::string_view json) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element root;
    auto const error = parser.parse(padded).get(root);
    EXPECT_EQ(error, simdjson::SUCCESS) << "simdjson refused: " << json;
    if (error) return {JcsStatus::unsupported_value, "<parse error>"};
    Canonicalizer canonicalizer;
    Canonical result{JcsStatus::ok, {}};
    result.status = canonicalizer.canonicalize(root, result.text);
    return result;
}

std::string canon_ok(std::string_view json) {
    Canonical const result = canonical(json);
    EXPECT_EQ(result.status, JcsStatus::ok) << describe(result.status) << " for " << json;
    return result.text;
}

std::string number(double value) {
    std::string out;
    EXPECT_TRUE(append_ecmascript_number(value, out));
    return out;
}

// RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
TEST(JcsNumbers, Rfc8785AppendixB) {
    std::vector<std::pair<std::uint64_t, std::string_view>> const table = {
        {0x0000000000000000, "0"},
        {0x8000000000000000, "0"},
        {0x0000000000000001, "5e-324"},
        {0x8000000000000001, "-5e-324"},
        {0x7fefffffffffffff, "1.7976931348623157e+308"},
        {0xffefffffffffffff, "-1.7976931348623157e+308"},
        {0x4340000000000000, "9007199254740992"},
        {0xc340000000000000, "-9007199254740992"},
        {0x4430000000000000, "295147905179352830000"},
        {0x44b52d02c7e14af5, "9.999999999999997e+22"},
        {0x44b52d02c7e14af6, "1e+23"},
        {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
        {0x444b1ae4d6e2ef4e, "999999999999999700000"},
        {0x444b1ae4d6e2ef4f, "999999999999999900000"},
        {0x444b1ae4d6e2ef50, "1e+21"},
        {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
        {0x3eb0c6f7a0b5ed8d, "0.000001"},
        {0x41b3de4355555553, "333333333.3333332"},
        {0x41b3de4355555554, "333333333.33333325"},
        {0x41b3de4355555555, "333333333.3333333"},
        {0x41b3de4355555556, "333333333.3333334"},
        {0x41b3de4355555557, "333333333.33333343"},
        {0xbecbf647612f3696, "-0.0000033333333333333333"},
        {0x43143ff3c1cb0959, "1424953923781206.2"},
    };
    for (auto const& [bits, expected] : table) {
        EXPECT_EQ(number(std::bit_cast<double>(bits)), expected) << std::hex << bits;
    }
}

TEST(JcsNumbers, NonFiniteIsRefusedAndAppendsNothing) {
    std::string out = "x";
    EXPECT_FALSE(append_ecmascript_number(std::bit_cast<double>(0x7fffffffffffffffULL), out));
    EXPECT_FALSE(append_ecmascript_number(std::numeric_limits<double>::infinity(), out));
    EXPECT_FALSE(append_ecmascript_number(-std::numeric_limits<double>::infinity(), out));
    EXPECT_EQ(out, "x");
}

TEST(JcsNumbers, EcmascriptLayoutBoundaries) {
    EXPECT_EQ(number(1e21), "1e+21");
    EXPECT_EQ(number(1e20), "100000000000000000000");
    EXPECT_EQ(number(123456789012345680000.0), "123456789012345680000");
    EXPECT_EQ(number(1.5e21), "1.5e+21");
    EXPECT_EQ(number(5e-7), "5e-7");
    EXPECT_EQ(number(1.5e-7), "1.5e-7");
    EXPECT_EQ(number(1e-7), "1e-7");
    EXPECT_EQ(number(0.000001), "0.000001");
    EXPECT_EQ(number(0.0000015), "0.0000015");
    EXPECT_EQ(number(0.1), "0.1");
    EXPECT_EQ(number(-0.5), "-0.5");
    EXPECT_EQ(number(123.456), "123.456");
    EXPECT_EQ(number(4.5), "4.5");
    EXPECT_EQ(number(0.002), "0.002");
    EXPECT_EQ(number(1e30), "1e+30");
    EXPECT_EQ(number(1e-27), "1e-27");
    EXPECT_EQ(number(-1e-27), "-1e-27");
    EXPECT_EQ(number(1e308), "1e+308");
    EXPECT_EQ(number(2.2250738585072014e-308), "2.2250738585072014e-308");
    EXPECT_EQ(number(-0.0), "0");
    EXPECT_EQ(number(1.0), "1");
    EXPECT_EQ(number(-42.0), "-42");
    EXPECT_EQ(number(9007199254740994.0), "9007199254740994");
    EXPECT_EQ(number(0.1 + 0.2), "0.30000000000000004");
}

TEST(JcsNumbers, ParsedIntegersBecomeDoublesAsInEcmascript) {
    EXPECT_EQ(canon_ok("9007199254740992"), "9007199254740992");
    EXPECT_EQ(canon_ok("9007199254740993"), "9007199254740992");  // ties to even
    EXPECT_EQ(canon_ok("9007199254740995"), "9007199254740996");
    EXPECT_EQ(canon_ok("-9007199254740993"), "-9007199254740992");
    EXPECT_EQ(canon_ok("9223372036854775807"), "9223372036854776000");
    EXPECT_EQ(canon_ok("-9223372036854775808"), "-9223372036854776000");
    EXPECT_EQ(canon_ok("9223372036854775808"), "9223372036854776000");    // UINT64
    EXPECT_EQ(canon_ok("18446744073709551615"), "18446744073709552000");  // UINT64 max
    EXPECT_EQ(canon_ok("-0"), "0");
    EXPECT_EQ(canon_ok("-0.0"), "0");
    EXPECT_EQ(canon_ok("1e-400"), "0");  // underflows to 0
    EXPECT_EQ(canon_ok("-1e-400"), "0");
    EXPECT_EQ(canon_ok("100e-2"), "1");
    EXPECT_EQ(canon_ok("1.23456789012345678901e20"), "123456789012345680000");
    EXPECT_EQ(canon_ok("3.14159265358979323846264338327950288"), "3.141592653589793");
    EXPECT_EQ(canon_ok("2.4703282292062328e-324"), "5e-324");
    EXPECT_EQ(canon_ok("2.4703282292062327e-324"), "0");
}

// simdjson refuses these at parse time (documented in jcs.h); if a simdjson
// upgrade changes that, the contract in jcs.h needs a new look.
TEST(JcsNumbers, ParserRefusesWhatDomCannotHold) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    EXPECT_EQ(
        parser.parse(simdjson::padded_string(std::string_view("123456789012345678901"))).get(root),
        simdjson::NUMBER_ERROR);
    EXPECT_EQ(
        parser.parse(simdjson::padded_string(std::string_view("[-9223372036854775809]"))).get(root),
        simdjson::NUMBER_ERROR);
    EXPECT_EQ(parser.parse(simdjson::padded_string(std::string_view("[1e400]"))).get(root),
              simdjson::NUMBER_ERROR);
    EXPECT_EQ(parser.parse(simdjson::padded_string(std::string_view(R"(["\ud800"])"))).get(root),
              simdjson::STRING_ERROR);
    EXPECT_EQ(parser.parse(simdjson::padded_string(std::string_view(R"(["\udc00x"])"))).get(root),
              simdjson::STRING_ERROR);
    EXPECT_EQ(
        parser.parse(simdjson::padded_string(std::string_view("[\"\xed\xa0\x80\"]"))).get(root),
        simdjson::UTF8_ERROR);
}

// RFC 8785 section 3.2.2 example.
TEST(JcsDocuments, Rfc8785Example) {
    std::string_view const input = R"({
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    })";
    EXPECT_EQ(canon_ok(input),
              "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-"
              "27],\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

// RFC 8785 section 3.2.3 sorting example.
TEST(JcsSorting, Rfc8785Example) {
    std::string_view const input = R"({
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    })";
    EXPECT_EQ(canon_ok(input),
              "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
              "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro "
              "Sign\",\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\",\"\xef\xac\xb3\":\"Hebrew "
              "Letter Dalet With Dagesh\"}");
}

TEST(JcsSorting, AstralSortsBelowHighBmpUnlikeUtf8Bytes) {
    std::string_view const grinning = "\xf0\x9f\x98\x80";  // U+1F600 = D83D DE00
    std::string_view const halfwidth = "\xef\xbd\xa1";     // U+FF61
    std::string_view const private_use = "\xee\x80\x80";   // U+E000
    std::string_view const d7ff = "\xed\x9f\xbf";          // U+D7FF, below surrogates
    std::string_view const max = "\xf4\x8f\xbf\xbf";       // U+10FFFF = DBFF DFFF
    EXPECT_TRUE(utf16_less(grinning, halfwidth));
    EXPECT_FALSE(utf16_less(halfwidth, grinning));
    EXPECT_TRUE(utf16_less(max, private_use));
    EXPECT_TRUE(utf16_less(d7ff, grinning));
    EXPECT_TRUE(utf16_less("\xf0\x90\x80\x80", max));   // both astral: code point order
    EXPECT_TRUE(utf16_less("a", "a\xf0\x9f\x98\x80"));  // prefix first
    EXPECT_TRUE(utf16_less("ab\xf0\x9f\x98\x80", "ab\xef\xbd\xa1"));
    EXPECT_FALSE(utf16_less("abc", "abc"));
    EXPECT_TRUE(utf16_less("", "a"));

    EXPECT_EQ(canon_ok(R"({"\uff61":1,"\ud83d\ude00":2,"\ue000":3,"z":4,"\u00ff":5})"),
              "{\"z\":4,\"\xc3\xbf\":5,\"\xf0\x9f\x98\x80\":2,\"\xee\x80\x80\":3,"
              "\"\xef\xbd\xa1\":1}");
}

TEST(JcsSorting, ManyMembersAndNumericLookingKeys) {
    // More than 16 members takes std::sort past its insertion-sort cutoff.
    EXPECT_EQ(canon_ok(R"({"10":0,"9":0,"1":0,"b":0,"a":0,"B":0,"A":0,"_":0,"~":0," ":0,
                         "aa":0,"a0":0,"":0,"0":0,"-1":0,"x":0,"y":0,"w":0,"\u007f":0})"),
              "{\"\":0,\" \":0,\"-1\":0,\"0\":0,\"1\":0,\"10\":0,\"9\":0,\"A\":0,\"B\":0,\"_\":0,"
              "\"a\":0,\"a0\":0,\"aa\":0,\"b\":0,\"w\":0,\"x\":0,\"y\":0,\"~\":0,\"\x7f\":0}");
}

TEST(JcsStrings, MinimalEscapes) {
    std::string expected = "\"";
    std::string input = "\"";
    for (int c = 0; c < 0x20; ++c) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\u%04X", c);
        input += hex;
    }
    input += "\"";
    for (int c = 0; c < 0x20; ++c) {
        switch (c) {
            case '\b':
                expected += "\\b";
                break;
            case '\t':
                expected += "\\t";
                break;
            case '\n':
                expected += "\\n";
                break;
            case '\f':
                expected += "\\f";
                break;
            case '\r':
                expected += "\\r";
                break;
            default: {
                char hex[8];
                std::snprintf(hex, sizeof hex, "\\u%04x", c);
                expected += hex;
            }
        }
    }
    expected += "\"";
    EXPECT_EQ(canon_ok(input), expected);
    EXPECT_EQ(canon_ok(R"("\u001F\u000B\u007f\u0080")"), "\"\\u001f\\u000b\x7f\xc2\x80\"");
    EXPECT_EQ(canon_ok(R"("\u2028\u2029")"), "\"\xe2\x80\xa8\xe2\x80\xa9\"");
    EXPECT_EQ(canon_ok(R"("\/ \" \\ \u0041 \uD83D\uDE00 é")"),
              "\"/ \\\" \\\\ A \xf0\x9f\x98\x80 \xc3\xa9\"");
    EXPECT_EQ(canon_ok(R"("")"), "\"\"");
}

TEST(JcsStrings, InvalidUtf8IsRefused) {
    std::vector<std::string_view> const invalid = {
        "\x80",              // lone continuation
        "\xc0\x80",          // overlong NUL
        "\xc1\xbf",          // overlong
        "\xe0\x80\xaf",      // overlong
        "\xed\xa0\x80",      // encoded high surrogate U+D800
        "\xed\xbf\xbf",      // encoded low surrogate U+DFFF
        "\xf4\x90\x80\x80",  // above U+10FFFF
        "\xf5\x80\x80\x80",  // invalid lead
        "\xff",              //
        "a\xe2\x82",         // truncated at end
        "\xe2\x28\xa1",      // bad continuation
        "\xf0\x9f\x98",      // truncated astral
    };
    for (std::string_view bytes : invalid) {
        std::string out;
        EXPECT_FALSE(append_json_string(bytes, out)) << testing::PrintToString(bytes);
    }
    std::string out;
    EXPECT_TRUE(append_json_string("\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80", out));
    EXPECT_EQ(out, "\"\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\"");
}

TEST(JcsDocuments, LiteralsAndNesting) {
    EXPECT_EQ(canon_ok("true"), "true");
    EXPECT_EQ(canon_ok("false"), "false");
    EXPECT_EQ(canon_ok("null"), "null");
    EXPECT_EQ(canon_ok(R"( "s" )"), "\"s\"");
    EXPECT_EQ(canon_ok("{}"), "{}");
    EXPECT_EQ(canon_ok("[]"), "[]");
    EXPECT_EQ(canon_ok(" [ { } , [ ] , [ [ ] ] , { \"a\" : { } } ] "), "[{},[],[[]],{\"a\":{}}]");
    EXPECT_EQ(canon_ok(R"({"b":[3,{"z":1,"y":[{"q":null,"p":true}]}],"a":{"d":2,"c":1.0}})"),
              R"({"a":{"c":1,"d":2},"b":[3,{"y":[{"p":true,"q":null}],"z":1}]})");

    // Each level gains "a" sorted before "k".
    std::string expected;
    for (int i = 0; i < 200; ++i)
        expected += "{\"a\":0,\"k\":[";
    expected += "1";
    for (int i = 0; i < 200; ++i)
        expected += "]}";
    std::string input;
    for (int i = 0; i < 200; ++i)
        input += "{\"k\":[";
    input += "1";
    for (int i = 0; i < 200; ++i)
        input += "],\"a\":0}";
    EXPECT_EQ(canon_ok(input), expected);
}

TEST(JcsErrors, DuplicateKeysAreRefused) {
    Canonical const top = canonical(R"({"a":1,"b":2,"a":1})");
    EXPECT_EQ(top.status, JcsStatus::duplicate_key);
    EXPECT_TRUE(top.text.empty());
    Canonical const nested = canonical(R"([{"x":{"k":1,"\u006b":2}}])");
    EXPECT_EQ(nested.status, JcsStatus::duplicate_key);
    EXPECT_TRUE(nested.text.empty());
    EXPECT_EQ(canonical(R"({"a":{"a":1},"b":{"a":1}})").status, JcsStatus::ok);
}

TEST(JcsErrors, EveryStatusIsDescribed) {
    for (JcsStatus status : {JcsStatus::invalid_utf8, JcsStatus::non_finite_number,
                             JcsStatus::duplicate_key, JcsStatus::unsupported_value}) {
        EXPECT_GT(describe(status).size(), 30u);
    }
    EXPECT_EQ(describe(JcsStatus::ok), "ok");
}

TEST(JcsCanonicalizer, ReusableAfterErrorAndOnSubObjects) {
    simdjson::dom::parser parser;
    simdjson::padded_string const intent(std::string_view(
        R"({"protocol":"sl-drm","version":1,"record":{"z":1,"a":[true,"x"]},"signer":{}})"));
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(intent).get(root), simdjson::SUCCESS);
    simdjson::dom::element record;
    ASSERT_EQ(root["record"].get(record), simdjson::SUCCESS);

    Canonicalizer canonicalizer;
    std::string out = "stale";
    ASSERT_EQ(canonicalizer.canonicalize(record, out), JcsStatus::ok);
    EXPECT_EQ(out, R"({"a":[true,"x"],"z":1})");

    simdjson::dom::parser other;
    simdjson::padded_string const dup(std::string_view(R"({"q":{"a":1,"a":2},"b":0})"));
    simdjson::dom::element bad;
    ASSERT_EQ(other.parse(dup).get(bad), simdjson::SUCCESS);
    EXPECT_EQ(canonicalizer.canonicalize(bad, out), JcsStatus::duplicate_key);
    EXPECT_TRUE(out.empty());

    ASSERT_EQ(canonicalizer.canonicalize(record, out), JcsStatus::ok);
    EXPECT_EQ(out, R"({"a":[true,"x"],"z":1})");
}

TEST(JcsCanonicalizer, SteadyStateAllocatesNothing) {
    simdjson::dom::parser parser;
    simdjson::padded_string const record(std::string_view(R"({
      "type":"music","assetId":"asset-\u00e9-1","recordId":"rec-1","event":"REGISTER",
      "timestamp":"2024-05-01T12:00:00.000Z",
      "owners":[{"partyId":"p1","role":"composer","shareBps":5000},
                {"partyId":"p2","role":"publisher","shareBps":5000}],
      "distribution":{"cdnUrl":"https://cdn.example/a.mp3","sha256":"ab12","contentType":"audio/mpeg"},
      "terms":{"territory":"WW","rights":["stream","download"],"mechanical":0.091},
      "nonce":"n-1"})"));
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(record).get(root), simdjson::SUCCESS);

    Canonicalizer canonicalizer(4);  // deliberately small: warm-up must grow it
    EXPECT_EQ(canonicalizer.scratch_capacity(), 4u);
    std::string out;
    ASSERT_EQ(canonicalizer.canonicalize(root, out), JcsStatus::ok);
    std::string const first = out;
    EXPECT_GT(canonicalizer.scratch_capacity(), 4u);

    // The output string and the member scratch are the only things a call can
    // grow (sorting and DOM iteration do not allocate), so stable buffers mean
    // no allocation. (ingest_alloc_test.cpp counts operator new for the whole
    // stage, canonicalization included; one binary can replace it only once.)
    char const* const data = out.data();
    std::size_t const capacity = out.capacity();
    std::size_t const scratch = canonicalizer.scratch_capacity();
    for (int i = 0; i < 100; ++i) {
        ASSERT_EQ(canonicalizer.canonicalize(root, out), JcsStatus::ok);
        ASSERT_EQ(out.data(), data);
        ASSERT_EQ(out.capacity(), capacity);
        ASSERT_EQ(canonicalizer.scratch_capacity(), scratch);
    }
    EXPECT_EQ(out, first);
    EXPECT_EQ(first.substr(0, 40), R"({"assetId":"asset-é-1","distribution":{)");
}

// What the old RareGen service signed: JSON.stringify of the record rebuilt
// with Object.keys(o).sort(); JavaScript lists array-index keys first, in
// numeric order. Expected texts as node prints them for these inputs.
std::string javascript_form(std::string_view json, bool* saw_index = nullptr) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element root;
    EXPECT_EQ(parser.parse(padded).get(root), simdjson::SUCCESS);
    Canonicalizer canonicalizer;
    std::string out;
    EXPECT_EQ(canonicalizer.canonicalize(root, out, KeyOrder::javascript), JcsStatus::ok);
    if (saw_index != nullptr) *saw_index = canonicalizer.saw_array_index_key();
    return out;
}

TEST(JcsKeyOrder, JavascriptPutsArrayIndexKeysFirstInNumericOrder) {
    bool saw = false;
    EXPECT_EQ(javascript_form(R"({"b":1,"10":2,"9":3,"a":4})", &saw),
              R"({"9":3,"10":2,"a":4,"b":1})");
    EXPECT_TRUE(saw);
    EXPECT_EQ(canon_ok(R"({"b":1,"10":2,"9":3,"a":4})"), R"({"10":2,"9":3,"a":4,"b":1})");
    // Not indices: leading zeros, signs, fractions, 2^32-1 and beyond; they
    // sort as text among the other keys.
    EXPECT_EQ(javascript_form(R"({"010":1,"-1":2,"1.5":3,"4294967295":4,"4294967294":5,"2":6})"),
              R"({"2":6,"4294967294":5,"-1":2,"010":1,"1.5":3,"4294967295":4})");
    // Nested objects too; arrays keep their order; values are written alike.
    EXPECT_EQ(javascript_form(R"({"terms":{"2025":{"x":1e21,"0":"é"},"1999":[3,1]},"a":-0})"),
              R"({"a":0,"terms":{"1999":[3,1],"2025":{"0":"é","x":1e+21}}})");
    // No index key: both orders give the same text and nothing is flagged.
    EXPECT_EQ(javascript_form(R"({"b":{"c":1},"a":[{"z":0,"y":1}]})", &saw),
              canon_ok(R"({"b":{"c":1},"a":[{"z":0,"y":1}]})"));
    EXPECT_FALSE(saw);
}

TEST(JcsKeyOrder, ArrayIndexKeys) {
    for (std::string_view k : {"0", "9", "10", "2024", "4294967294"})
        EXPECT_TRUE(is_array_index_key(k)) << k;
    for (std::string_view k :
         {"", "00", "01", "-0", "-1", "1.0", "1e3", " 1", "4294967295", "99999999999", "a1", "1a"})
        EXPECT_FALSE(is_array_index_key(k)) << k;
}

TEST(JcsKeyOrder, DuplicateKeysAreStillRefused) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(std::string_view(R"({"7":1,"a":2,"7":3})"));
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(padded).get(root), simdjson::SUCCESS);
    Canonicalizer canonicalizer;
    std::string out;
    EXPECT_EQ(canonicalizer.canonicalize(root, out, KeyOrder::javascript),
              JcsStatus::duplicate_key);
}

}  // namespace
}  // namespace raregen::ingest
