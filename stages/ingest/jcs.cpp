#include "stages/ingest/jcs.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace raregen::ingest {

namespace {

// Integers with magnitude up to 2^53 are exact doubles, and ECMAScript prints
// every integer below 1e21 without exponent, so these print as plain integers.
constexpr double k_max_exact_integer = 9007199254740992.0;  // 2^53
constexpr std::int64_t k_max_exact_int64 = std::int64_t{1} << 53;

void append_int64(std::int64_t value, std::string& out) {
    std::array<char, 24> buffer{};
    auto const result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    out.append(buffer.data(), result.ptr);
}

// Byte classes for string escaping: 0 copy as is, 1 escape, 2 start of a
// multi-byte UTF-8 sequence (or an invalid byte) to validate.
constexpr std::array<std::uint8_t, 256> make_byte_classes() {
    std::array<std::uint8_t, 256> classes{};
    for (std::size_t i = 0; i < 0x20; ++i)
        classes[i] = 1;
    classes['"'] = 1;
    classes['\\'] = 1;
    for (std::size_t i = 0x80; i < 0x100; ++i)
        classes[i] = 2;
    return classes;
}
constexpr std::array<std::uint8_t, 256> k_byte_classes = make_byte_classes();

constexpr bool is_continuation(unsigned char byte) {
    return (byte & 0xC0) == 0x80;
}

// Length of the well-formed UTF-8 sequence starting at s[i] (a byte >= 0x80),
// or 0 if it is not well formed (Unicode Table 3-7: no overlongs, no
// surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
    auto const at = [&](std::size_t k) -> unsigned char {
        return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
    };
    unsigned char const lead = at(0);
    unsigned char const second = at(1);
    if (lead >= 0xC2 && lead <= 0xDF) return is_continuation(second) ? 2 : 0;
    if (lead >= 0xE0 && lead <= 0xEF) {
        unsigned char const low = lead == 0xE0 ? 0xA0 : 0x80;
        unsigned char const high = lead == 0xED ? 0x9F : 0xBF;
        if (second < low || second > high) return 0;
        return is_continuation(at(2)) ? 3 : 0;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        unsigned char const low = lead == 0xF0 ? 0x90 : 0x80;
        unsigned char const high = lead == 0xF4 ? 0x8F : 0xBF;
        if (second < low || second > high) return 0;
        return is_continuation(at(2)) && is_continuation(at(3)) ? 4 : 0;
    }
    return 0;
}

// True if none of the 8 bytes at p needs attention (control, quote,
// backslash, non-ASCII): most string content, checked a word at a time.
bool plain_ascii8(char const* p) {
    constexpr std::uint64_t k_ones = 0x0101010101010101ULL;
    constexpr std::uint64_t k_high = 0x8080808080808080ULL;
    std::uint64_t word = 0;
    std::memcpy(&word, p, sizeof word);
    // "Has a byte below n" and "has a zero byte" word tricks: exact about
    // whether any byte matches, which is all we ask.
    auto const has_zero = [](std::uint64_t v) { return (v - k_ones) & ~v & k_high; };
    std::uint64_t const below_space = (word - k_ones * 0x20) & ~word & k_high;
    std::uint64_t const quote = has_zero(word ^ (k_ones * '"'));
    std::uint64_t const backslash = has_zero(word ^ (k_ones * '\\'));
    return ((word & k_high) | below_space | quote | backslash) == 0;
}

}  // namespace

bool append_json_string(std::string_view s, std::string& out) {
    static constexpr char k_hex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run_start = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i + 8 <= s.size() && plain_ascii8(s.data() + i))
            i += 8;
        if (i >= s.size()) break;
        auto const byte = static_cast<unsigned char>(s[i]);
        switch (k_byte_classes[byte]) {
            case 0:
                ++i;
                break;
            case 2: {
                std::size_t const length = utf8_sequence_length(s, i);
                if (length == 0) return false;
                i += length;
                break;
            }
            default: {
                out.append(s.data() + run_start, i - run_start);
                char escape = 0;
                switch (byte) {
                    case '"':
                        escape = '"';
                        break;
                    case '\\':
                        escape = '\\';
                        break;
                    case '\b':
                        escape = 'b';
                        break;
                    case '\f':
                        escape = 'f';
                        break;
                    case '\n':
                        escape = 'n';
                        break;
                    case '\r':
                        escape = 'r';
                        break;
                    case '\t':
                        escape = 't';
                        break;
                    default:
                        break;
                }
                if (escape != 0) {
                    char const pair[2] = {'\\', escape};
                    out.append(pair, 2);
                } else {
                    char const unicode[6] = {
                        '\\', 'u', '0', '0', k_hex[byte >> 4], k_hex[byte & 0xF]};
                    out.append(unicode, 6);
                }
                ++i;
                run_start = i;
                break;
            }
        }
    }
    out.append(s.data() + run_start, s.size() - run_start);
    out.push_back('"');
    return true;
}

namespace {

// Bytes ranked so that byte-wise lexicographic order of UTF-8 equals UTF-16
// code unit order. The two orders differ in one place only: characters
// U+E000..U+FFFF (lead bytes EE, EF) are single UTF-16 units above every
// surrogate, while U+10000 and up (lead bytes F0..F4) start with a surrogate
// (D800..DBFF). So EE and EF rank above every other byte. The map is a
// bijection, which keeps the order total even for invalid UTF-8 (std::sort
// needs that to stay in bounds).
constexpr unsigned utf16_rank(unsigned char byte) {
    return byte == 0xEE || byte == 0xEF ? 0x100u + (byte - 0xEEu) : byte;
}

}  // namespace

std::string_view describe(JcsStatus status) noexcept {
    switch (status) {
        case JcsStatus::ok:
            return "ok";
        case JcsStatus::invalid_utf8:
            return "a string or key is not well-formed UTF-8 (or encodes a lone UTF-16 "
                   "surrogate); send text as UTF-8 and escape astral characters as surrogate "
                   "pairs";
        case JcsStatus::non_finite_number:
            return "a number is NaN or infinite, which JSON cannot carry; send a finite number";
        case JcsStatus::duplicate_key:
            return "an object has the same key twice, so its signed meaning is ambiguous; send "
                   "each key once";
        case JcsStatus::unsupported_value:
            return "the value is not a JSON value (unknown element type); send plain JSON";
    }
    return "unknown canonicalization status";
}

bool append_ecmascript_number(double value, std::string& out) {
    if (!std::isfinite(value)) return false;
    if (value == 0.0) {  // also -0, which ECMAScript prints as "0"
        out.push_back('0');
        return true;
    }
    if (std::fabs(value) <= k_max_exact_integer && std::trunc(value) == value) {
        append_int64(static_cast<std::int64_t>(value), out);
        return true;
    }

    // Shortest round-trip digits (the ECMAScript choice: fewest digits, then
    // closest to the value), in scientific form d[.ddd]e[+-]x.
    std::array<char, 40> sci{};
    auto const converted =
        std::to_chars(sci.data(), sci.data() + sci.size(), value, std::chars_format::scientific);
    char const* p = sci.data();
    char const* const end = converted.ptr;

    std::array<char, 40> layout{};
    std::size_t size = 0;
    if (*p == '-') {
        layout[size++] = '-';
        ++p;
    }
    std::array<char, 20> digits{};
    int digit_count = 0;
    digits[static_cast<std::size_t>(digit_count++)] = *p++;
    if (*p == '.') {
        for (++p; *p != 'e'; ++p)
            digits[static_cast<std::size_t>(digit_count++)] = *p;
    }
    ++p;  // 'e'
    bool const negative_exponent = *p == '-';
    ++p;  // sign, always present
    int exponent = 0;
    (void)std::from_chars(p, end, exponent);
    if (negative_exponent) exponent = -exponent;

    // ECMAScript Number::toString: value = 0.d1d2...dk x 10^n.
    int const n = exponent + 1;
    int const k = digit_count;
    auto const put_digits = [&](int from, int to) {
        for (int i = from; i < to; ++i)
            layout[size++] = digits[static_cast<std::size_t>(i)];
    };
    if (k <= n && n <= 21) {
        put_digits(0, k);
        for (int i = 0; i < n - k; ++i)
            layout[size++] = '0';
    } else if (0 < n && n <= 21) {
        put_digits(0, n);
        layout[size++] = '.';
        put_digits(n, k);
    } else if (-6 < n && n <= 0) {
        layout[size++] = '0';
        layout[size++] = '.';
        for (int i = 0; i < -n; ++i)
            layout[size++] = '0';
        put_digits(0, k);
    } else {
        put_digits(0, 1);
        if (k > 1) {
            layout[size++] = '.';
            put_digits(1, k);
        }
        layout[size++] = 'e';
        layout[size++] = n - 1 < 0 ? '-' : '+';
        int const magnitude = n - 1 < 0 ? 1 - n : n - 1;
        auto const written =
            std::to_chars(layout.data() + size, layout.data() + layout.size(), magnitude);
        size = static_cast<std::size_t>(written.ptr - layout.data());
    }
    out.append(layout.data(), size);
    return true;
}

bool is_array_index_key(std::string_view key) noexcept {
    // ToString(ToUint32(key)) == key and ToUint32(key) != 2^32 - 1.
    if (key.empty() || key.size() > 10) return false;
    if (key.size() > 1 && key[0] == '0') return false;
    std::uint64_t value = 0;
    for (char c : key) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return value < 0xffffffffULL;
}

namespace {
// The javascript KeyOrder: array indices first, by value (for canonical
// decimals, shorter is smaller and equal lengths compare as text), then the
// rest by UTF-16 code units.
bool javascript_less(std::string_view a, std::string_view b) noexcept {
    const bool ia = is_array_index_key(a);
    const bool ib = is_array_index_key(b);
    if (ia != ib) return ia;
    if (ia) return a.size() != b.size() ? a.size() < b.size() : a < b;
    return utf16_less(a, b);
}
}  // namespace

bool utf16_less(std::string_view a, std::string_view b) noexcept {
    std::size_t const common = std::min(a.size(), b.size());
    auto const [pa, pb] = std::mismatch(a.data(), a.data() + common, b.data());
    if (pa == a.data() + common) return a.size() < b.size();
    return utf16_rank(static_cast<unsigned char>(*pa)) <
           utf16_rank(static_cast<unsigned char>(*pb));
}

Canonicalizer::Canonicalizer(std::size_t expected_members) {
    m_members.reserve(expected_members);
}

JcsStatus Canonicalizer::canonicalize(simdjson::dom::element value, std::string& out,
                                      KeyOrder order) {
    out.clear();
    m_members.clear();
    m_order = order;
    m_saw_index_key = false;
    JcsStatus const status = write_value(value, out);
    if (status != JcsStatus::ok) {
        out.clear();
        m_members.clear();
    }
    return status;
}

JcsStatus Canonicalizer::write_value(simdjson::dom::element value, std::string& out) {
    using simdjson::dom::element_type;
    switch (value.type()) {
        case element_type::OBJECT:
            return write_object(value.get_object().value_unsafe(), out);
        case element_type::ARRAY: {
            out.push_back('[');
            bool first = true;
            // A named copy: iterating value_unsafe() of a temporary result would
            // iterate a reference into that destroyed temporary.
            simdjson::dom::array const array = value.get_array().value_unsafe();
            for (simdjson::dom::element item : array) {
                if (!first) out.push_back(',');
                first = false;
                JcsStatus const status = write_value(item, out);
                if (status != JcsStatus::ok) return status;
            }
            out.push_back(']');
            return JcsStatus::ok;
        }
        case element_type::STRING:
            return append_json_string(value.get_string().value_unsafe(), out)
                       ? JcsStatus::ok
                       : JcsStatus::invalid_utf8;
        case element_type::INT64: {
            std::int64_t const number = value.get_int64().value_unsafe();
            if (number >= -k_max_exact_int64 && number <= k_max_exact_int64) {
                append_int64(number, out);
                return JcsStatus::ok;
            }
            // Rounds to nearest, ties to even: the double JSON.parse yields.
            return append_ecmascript_number(static_cast<double>(number), out)
                       ? JcsStatus::ok
                       : JcsStatus::non_finite_number;
        }
        case element_type::UINT64:
            // Only values >= 2^63 are UINT64; all exceed 2^53.
            return append_ecmascript_number(static_cast<double>(value.get_uint64().value_unsafe()),
                                            out)
                       ? JcsStatus::ok
                       : JcsStatus::non_finite_number;
        case element_type::DOUBLE:
            return append_ecmascript_number(value.get_double().value_unsafe(), out)
                       ? JcsStatus::ok
                       : JcsStatus::non_finite_number;
        case element_type::BOOL:
            out.append(value.get_bool().value_unsafe() ? "true" : "false");
            return JcsStatus::ok;
        case element_type::NULL_VALUE:
            out.append("null");
            return JcsStatus::ok;
    }
    return JcsStatus::unsupported_value;
}

JcsStatus Canonicalizer::write_object(simdjson::dom::object object, std::string& out) {
    // This object's members occupy [base, end) of the shared stack; nested
    // objects push above `end` and pop before we continue. Indices, not
    // iterators: a nested push may reallocate (during warm-up only).
    std::size_t const base = m_members.size();
    for (simdjson::dom::key_value_pair field : object) {
        m_members.push_back(Member{field.key, field.value});
    }
    std::size_t const end = m_members.size();
    for (std::size_t i = base; i < end && !m_saw_index_key; ++i)
        m_saw_index_key = is_array_index_key(m_members[i].key);
    auto const first = m_members.begin() + static_cast<std::ptrdiff_t>(base);
    auto const last = m_members.begin() + static_cast<std::ptrdiff_t>(end);
    if (m_order == KeyOrder::javascript) {
        std::sort(first, last,
                  [](Member const& x, Member const& y) { return javascript_less(x.key, y.key); });
    } else {
        std::sort(first, last,
                  [](Member const& x, Member const& y) { return utf16_less(x.key, y.key); });
    }

    out.push_back('{');
    for (std::size_t i = base; i < end; ++i) {
        Member const member = m_members[i];
        if (i > base) {
            // Sorting is a total order on bytes, so equal keys are adjacent.
            if (member.key == m_members[i - 1].key) return JcsStatus::duplicate_key;
            out.push_back(',');
        }
        if (!append_json_string(member.key, out)) return JcsStatus::invalid_utf8;
        out.push_back(':');
        JcsStatus const status = write_value(member.value, out);
        if (status != JcsStatus::ok) return status;
    }
    out.push_back('}');
    m_members.resize(base);
    return JcsStatus::ok;
}

}  // namespace raregen::ingest
