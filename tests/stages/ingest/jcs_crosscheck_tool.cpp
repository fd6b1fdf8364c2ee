// Cross-check helper for RFC 8785 canonicalization (see jcs_crosscheck.sh).
//
//   raregen_ingest_jcs_crosscheck <count> <seed> <input.jsonl> <ours.jsonl>
//
// Writes <count> random JSON records (one per line, deterministic for a seed)
// to <input.jsonl>, then canonicalizes each line with raregen::ingest and
// writes the results, one per line, to <ours.jsonl>. A line that fails is
// written as "!error: ..." so the comparison reports it as a mismatch.
// Numbers are generated as text, so both sides parse the same decimal
// strings. Records contain no raw newlines: JSON whitespace here is only space
// and tab, and canonical output escapes every control character.
//
// The generator leans toward the hard cases: keys whose UTF-8 byte order and
// UTF-16 order differ (U+E000..U+FFFF against astral characters, sharing
// prefixes), every escape form (short, \u in either case, surrogate pairs,
// "\/"), control characters, DEL, U+2028/2029, and numbers at the layout and
// precision edges (-0, 1e21, 5e-7, 2^53 + 1, uint64 max, subnormals, long
// mantissas, random bit patterns printed with and without shortest digits).

#include "stages/ingest/jcs.h"

#include <simdjson.h>

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

// splitmix64: tiny and identical on every platform (std distributions are not).
class Rng {
  public:
    explicit Rng(std::uint64_t seed) : m_state(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, bound) (modulo bias is irrelevant here).
    std::uint64_t below(std::uint64_t bound) { return next() % bound; }
    int between(int low, int high) {  // inclusive
        return low + static_cast<int>(below(static_cast<std::uint64_t>(high - low + 1)));
    }
    bool one_in(std::uint64_t n) { return below(n) == 0; }
    template <typename T, std::size_t N>
    T const& pick(std::array<T, N> const& items) {
        return items[below(N)];
    }

  private:
    std::uint64_t m_state;
};

void append_utf8(char32_t cp, std::string& out) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

constexpr std::array<char32_t, 34> k_interesting = {
    0x0080,  0x00E9,  0x00F6,  0x00FF,  0x07FF,  0x0800,  0x20AC,   0x2028, 0x2029,
    0x3042,  0xD7FF,  0xE000,  0xF8FF,  0xFB33,  0xFEFF,  0xFF61,   0xFFFD, 0xFFFF,
    0x10000, 0x1F600, 0x1F4A9, 0x1F1E6, 0x20000, 0xE0001, 0x10FFFF, 0x007F, 0x0000,
    0x001F,  0x000A,  0x0022,  0x005C,  0x002F,  0x0041,  0x0061};

// Key alphabet: few symbols so objects often hold keys sharing a prefix and
// differing where UTF-8 and UTF-16 disagree.
constexpr std::array<char32_t, 16> k_key_alphabet = {
    'a',    'b',    'A',     '1',     '_',      0x00E9, 0x20AC, 0xE000,
    0xFF61, 0xFFFF, 0x1F600, 0x10000, 0x10FFFF, 0x007F, 0x2028, 0x0009};

class Generator {
  public:
    explicit Generator(std::uint64_t seed) : m_rng(seed) {}

    std::string record() {
        m_out.clear();
        if (m_rng.one_in(6)) {
            raregen_record();
        } else {
            object(0);
        }
        return m_out;
    }

  private:
    void space() {
        if (m_rng.one_in(6)) m_out.append(m_rng.one_in(3) ? "\t" : " ");
    }

    char32_t random_code_point() {
        switch (m_rng.below(10)) {
            case 0:
            case 1:
            case 2:
                return static_cast<char32_t>(m_rng.between(0x20, 0x7E));
            case 3:
                return static_cast<char32_t>(m_rng.between(0x00, 0x1F));
            case 4:
            case 5:
                return m_rng.pick(k_interesting);
            case 6: {  // any BMP scalar value
                char32_t cp = static_cast<char32_t>(m_rng.between(0x80, 0xFFFF));
                return cp >= 0xD800 && cp <= 0xDFFF ? cp + 0x800 : cp;
            }
            case 7:
                return static_cast<char32_t>(m_rng.between(0x10000, 0x10FFFF));
            default:
                return static_cast<char32_t>(m_rng.between('a', 'z'));
        }
    }

    void hex4(unsigned value) {
        static constexpr char k_lower[] = "0123456789abcdef";
        static constexpr char k_upper[] = "0123456789ABCDEF";
        char const* digits = m_rng.one_in(2) ? k_lower : k_upper;
        m_out.append("\\u");
        for (int shift = 12; shift >= 0; shift -= 4)
            m_out.push_back(digits[(value >> shift) & 0xF]);
    }

    // Writes one code point inside a JSON string literal, in a random legal form.
    void encoded(char32_t cp) {
        if (cp < 0x20 || cp == '"' || cp == '\\' || m_rng.one_in(5)) {
            char short_form = 0;
            switch (cp) {
                case '"':
                    short_form = '"';
                    break;
                case '\\':
                    short_form = '\\';
                    break;
                case '/':
                    short_form = '/';
                    break;
                case '\b':
                    short_form = 'b';
                    break;
                case '\f':
                    short_form = 'f';
                    break;
                case '\n':
                    short_form = 'n';
                    break;
                case '\r':
                    short_form = 'r';
                    break;
                case '\t':
                    short_form = 't';
                    break;
                default:
                    break;
            }
            if (short_form != 0 && !m_rng.one_in(3)) {
                m_out.push_back('\\');
                m_out.push_back(short_form);
            } else if (cp >= 0x10000) {
                unsigned const v = static_cast<unsigned>(cp) - 0x10000;
                hex4(0xD800 + (v >> 10));
                hex4(0xDC00 + (v & 0x3FF));
            } else {
                hex4(static_cast<unsigned>(cp));
            }
            return;
        }
        append_utf8(cp, m_out);
    }

    void string_literal(std::u32string const& cps) {
        m_out.push_back('"');
        for (char32_t cp : cps)
            encoded(cp);
        m_out.push_back('"');
    }

    std::u32string random_text() {
        std::u32string cps;
        int const length = m_rng.one_in(10) ? m_rng.between(20, 80) : m_rng.between(0, 12);
        for (int i = 0; i < length; ++i)
            cps.push_back(random_code_point());
        return cps;
    }

    std::u32string random_key() {
        std::u32string cps;
        if (m_rng.one_in(8)) return random_text();
        int const length = m_rng.between(0, 4);
        for (int i = 0; i < length; ++i)
            cps.push_back(m_rng.pick(k_key_alphabet));
        return cps;
    }

    // simdjson's DOM refuses integer literals outside int64/uint64 (documented
    // in jcs.h; a unit test pins it), so such literals get a ".0": the same
    // double for JSON.parse, and a float token for simdjson.
    // Text that overflows a double (e.g. "2e+308" from rounding the largest
    // double to one digit) is refused by both sides, so it is replaced.
    void number() {
        std::size_t const start = m_out.size();
        number_text();
        if (!std::isfinite(std::strtod(m_out.c_str() + start, nullptr))) {
            m_out.resize(start);
            m_out.append("1.5");
        }
        std::string_view const text = std::string_view(m_out).substr(start);
        if (text.find_first_of(".eE") != std::string_view::npos) return;
        std::int64_t as_signed = 0;
        std::uint64_t as_unsigned = 0;
        bool const fits =
            std::from_chars(text.data(), text.data() + text.size(), as_signed).ec == std::errc{} ||
            std::from_chars(text.data(), text.data() + text.size(), as_unsigned).ec == std::errc{};
        if (!fits) m_out.append(".0");
    }

    void number_text() {
        char buffer[64];
        switch (m_rng.below(16)) {
            case 0: {  // small integers, -0 included
                int const v = m_rng.between(-1000, 1000);
                m_out.append(v == 0 && m_rng.one_in(2) ? "-0" : std::to_string(v));
                return;
            }
            case 1: {  // any int64
                auto const v = static_cast<std::int64_t>(m_rng.next());
                m_out.append(std::to_string(v >> m_rng.below(64)));
                return;
            }
            case 2: {  // any uint64, mostly above int64
                m_out.append(
                    std::to_string(m_rng.next() | (m_rng.one_in(2) ? 0x8000000000000000ULL : 0)));
                return;
            }
            case 3: {  // around 2^53
                std::int64_t const v = (std::int64_t{1} << 53) + m_rng.between(-4, 4);
                m_out.append(std::to_string(m_rng.one_in(2) ? v : -v));
                return;
            }
            case 4: {
                static constexpr std::array<std::string_view, 40> k_edges = {
                    "1e21",
                    "1e20",
                    "1E21",
                    "1e+21",
                    "999999999999999999999e0",
                    "1e-6",
                    "1e-7",
                    "5e-7",
                    "1.5e-7",
                    "0.000001",
                    "0.0000001",
                    "0.0000015",
                    "-0.0",
                    "0.0",
                    "-0",
                    "0e10",
                    "5e-324",
                    "-5e-324",
                    "2.4703282292062328e-324",
                    "2.4703282292062327e-324",
                    "4.9e-324",
                    "2.2250738585072014e-308",
                    "2.2250738585072011e-308",
                    "1.7976931348623157e308",
                    "-1.7976931348623157E+308",
                    "9007199254740993",
                    "9007199254740993.0",
                    "18446744073709551615",
                    "-9223372036854775808",
                    "9223372036854775807",
                    "333333333.33333329",
                    "1E30",
                    "4.50",
                    "2e-3",
                    "0.000000000000000000000000001",
                    "123456789012345678901234567890.5",
                    "1e-400",
                    "100e-2",
                    "0.1",
                    "1e007"};
                m_out.append(m_rng.pick(k_edges));
                return;
            }
            case 5:
            case 6: {  // random bit patterns, shortest digits
                double const d = random_finite_double();
                auto const r = std::to_chars(buffer, buffer + sizeof buffer, d);
                m_out.append(buffer, r.ptr);
                return;
            }
            case 7: {  // random bit patterns, 17 significant digits (not shortest)
                double const d = random_finite_double();
                std::snprintf(buffer, sizeof buffer, "%.17g", d);
                m_out.append(buffer);
                return;
            }
            case 8: {  // random precision in exponent form
                double const d = random_finite_double();
                std::snprintf(buffer, sizeof buffer, "%.*e", m_rng.between(0, 20), d);
                m_out.append(buffer);
                return;
            }
            case 9:
            case 10: {  // plain fractions
                m_out.append(m_rng.one_in(3) ? "-" : "");
                m_out.append(std::to_string(m_rng.below(m_rng.one_in(2) ? 1000 : 10000000000ULL)));
                m_out.push_back('.');
                int const decimals = m_rng.between(1, 12);
                for (int i = 0; i < decimals; ++i)
                    m_out.push_back(static_cast<char>('0' + m_rng.below(10)));
                return;
            }
            case 11:
            case 12: {  // decimal mantissa with exponent, magnitudes across the range
                std::string text;
                if (m_rng.one_in(3)) text.push_back('-');
                text.push_back(static_cast<char>('1' + m_rng.below(9)));
                int const decimals = m_rng.between(0, m_rng.one_in(4) ? 30 : 6);
                if (decimals > 0) text.push_back('.');
                for (int i = 0; i < decimals; ++i)
                    text.push_back(static_cast<char>('0' + m_rng.below(10)));
                text.push_back(m_rng.one_in(2) ? 'e' : 'E');
                int const exponent = m_rng.between(-340, 308);
                if (exponent >= 0 && m_rng.one_in(2)) text.push_back('+');
                text.append(std::to_string(exponent));
                m_out.append(text);
                return;
            }
            case 13: {  // integers with exponent around the 1e21 boundary
                m_out.append(std::to_string(m_rng.between(1, 999)));
                m_out.push_back('e');
                m_out.append(std::to_string(m_rng.between(15, 24)));
                return;
            }
            case 14: {  // tiny and small decimals around 1e-6
                m_out.append("0.");
                int const zeros = m_rng.between(0, 9);
                for (int i = 0; i < zeros; ++i)
                    m_out.push_back('0');
                m_out.append(std::to_string(m_rng.between(1, 99999)));
                return;
            }
            default: {  // long mantissas, more digits than a double holds
                m_out.append(std::to_string(m_rng.below(1000000000)));
                m_out.push_back('.');
                int const decimals = m_rng.between(15, 40);
                for (int i = 0; i < decimals; ++i)
                    m_out.push_back(static_cast<char>('0' + m_rng.below(10)));
                return;
            }
        }
    }

    double random_finite_double() {
        for (;;) {
            double const d = std::bit_cast<double>(m_rng.next());
            if (std::isfinite(d)) return d;
        }
    }

    void value(int depth) {
        std::uint64_t const kind = m_rng.below(depth >= 4 ? 6 : 9);
        switch (kind) {
            case 0:
            case 1:
                string_literal(random_text());
                return;
            case 2:
            case 3:
            case 4:
                number();
                return;
            case 5:
                m_out.append(m_rng.pick(std::array<std::string_view, 3>{"true", "false", "null"}));
                return;
            case 6:
            case 7:
                object(depth + 1);
                return;
            default:
                array(depth + 1);
                return;
        }
    }

    void array(int depth) {
        m_out.push_back('[');
        space();
        int const count = m_rng.between(0, 6);
        for (int i = 0; i < count; ++i) {
            if (i > 0) {
                m_out.push_back(',');
                space();
            }
            value(depth);
            space();
        }
        m_out.push_back(']');
    }

    void object(int depth) {
        m_out.push_back('{');
        space();
        int const count = m_rng.between(0, depth == 0 ? 10 : 7);
        std::vector<std::string> used;  // decoded keys: escapes must not hide duplicates
        for (int i = 0; i < count; ++i) {
            std::u32string key;
            std::string utf8;
            bool fresh = false;
            for (int attempt = 0; attempt < 8 && !fresh; ++attempt) {
                key = random_key();
                utf8.clear();
                for (char32_t cp : key)
                    append_utf8(cp, utf8);
                fresh = true;
                for (auto const& u : used)
                    fresh = fresh && u != utf8;
            }
            if (!fresh) continue;
            used.push_back(utf8);
            if (used.size() > 1) {
                m_out.push_back(',');
                space();
            }
            string_literal(key);
            space();
            m_out.push_back(':');
            space();
            value(depth);
            space();
        }
        m_out.push_back('}');
    }

    // A record shaped like docs/protocol.md section 6, fields in random order.
    void raregen_record() {
        static constexpr std::array<std::string_view, 4> k_types = {"music", "movie", "book",
                                                                    "document"};
        static constexpr std::array<std::string_view, 4> k_events = {"REGISTER", "UPDATE", "ASSIGN",
                                                                     "SPLIT_CHANGE"};
        std::vector<std::string> fields;
        auto field = [&](std::string_view name, std::string const& json) {
            std::string member(1, '"');
            member.append(name).append("\":").append(json);
            fields.push_back(std::move(member));
        };
        auto text = [&]() {
            std::string saved;
            saved.swap(m_out);
            string_literal(random_text());
            saved.swap(m_out);
            return saved;
        };
        auto quoted = [](std::string_view s) {
            std::string literal(1, '"');
            literal.append(s).push_back('"');
            return literal;
        };
        field("type", quoted(m_rng.pick(k_types)));
        field("assetId", text());
        field("recordId", text());
        field("event", quoted(m_rng.pick(k_events)));
        field("timestamp", quoted("2024-05-01T12:34:56.789Z"));
        std::string owners = "[";
        int const owner_count = m_rng.between(1, 4);
        for (int i = 0; i < owner_count; ++i) {
            if (i > 0) owners += ",";
            owners += "{\"shareBps\":" + std::to_string(m_rng.between(0, 10000)) +
                      ",\"role\":" + text() + ",\"partyId\":" + text() + "}";
        }
        owners += "]";
        field("owners", owners);
        field("distribution",
              "{\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\","
              "\"contentType\":\"audio/mpeg\",\"cdnUrl\":" +
                  text() + "}");
        std::string saved;
        saved.swap(m_out);
        number();
        saved.swap(m_out);
        field("terms", "{\"territory\":" + text() + ",\"rights\":[\"stream\"," + text() +
                           "],\"mechanical\":" + saved + "}");
        field("nonce", text());
        for (std::size_t i = fields.size(); i > 1; --i)
            std::swap(fields[i - 1], fields[m_rng.below(i)]);
        m_out.push_back('{');
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (i > 0) m_out.push_back(',');
            space();
            m_out.append(fields[i]);
        }
        m_out.push_back('}');
    }

    Rng m_rng;
    std::string m_out;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::cerr << "usage: " << argv[0] << " <count> <seed> <input.jsonl> <ours.jsonl>\n";
        return 2;
    }
    std::uint64_t count = 0;
    std::uint64_t seed = 0;
    std::string_view const count_text = argv[1];
    std::string_view const seed_text = argv[2];
    if (std::from_chars(count_text.data(), count_text.data() + count_text.size(), count).ec !=
            std::errc{} ||
        std::from_chars(seed_text.data(), seed_text.data() + seed_text.size(), seed).ec !=
            std::errc{}) {
        std::cerr << "count and seed must be unsigned decimal integers\n";
        return 2;
    }

    {
        std::ofstream input(argv[3], std::ios::binary);
        if (!input) {
            std::cerr << "cannot write " << argv[3] << "\n";
            return 2;
        }
        Generator generator(seed);
        for (std::uint64_t i = 0; i < count; ++i)
            input << generator.record() << '\n';
    }

    std::ifstream input(argv[3], std::ios::binary);
    std::ofstream ours(argv[4], std::ios::binary);
    if (!input || !ours) {
        std::cerr << "cannot reread " << argv[3] << " or write " << argv[4] << "\n";
        return 2;
    }
    simdjson::dom::parser parser;
    raregen::ingest::Canonicalizer canonicalizer;
    std::string line;
    std::string canonical;
    std::uint64_t failures = 0;
    while (std::getline(input, line)) {
        simdjson::padded_string const padded(line);
        simdjson::dom::element root;
        if (auto const error = parser.parse(padded).get(root); error != simdjson::SUCCESS) {
            ours << "!error: simdjson: " << simdjson::error_message(error) << '\n';
            ++failures;
            continue;
        }
        auto const status = canonicalizer.canonicalize(root, canonical);
        if (status != raregen::ingest::JcsStatus::ok) {
            ours << "!error: jcs: " << raregen::ingest::describe(status) << '\n';
            ++failures;
            continue;
        }
        ours << canonical << '\n';
    }
    std::cerr << "jcs_crosscheck: generated " << count << " records (seed " << seed << "), "
              << failures << " refused by our side\n";
    return 0;
}
