#include "engine/chain/base58.h"

#include <algorithm>

#include "engine/chain/hash.h"

namespace raregen::chain {

namespace {
constexpr char k_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

int alphabet_index(char c) {
    const char* p = std::find(k_alphabet, k_alphabet + 58, c);
    return p == k_alphabet + 58 ? -1 : static_cast<int>(p - k_alphabet);
}
}  // namespace

std::string base58_encode(ByteSpan data) {
    std::size_t zeros = 0;
    while (zeros < data.size() && data[zeros] == 0)
        ++zeros;
    // log(256)/log(58) < 1.38: enough base-58 digits for the rest.
    std::vector<std::uint8_t> digits((data.size() - zeros) * 138 / 100 + 1, 0);
    std::size_t used = 0;
    for (std::size_t i = zeros; i < data.size(); ++i) {
        unsigned carry = data[i];
        std::size_t j = 0;
        for (auto it = digits.rbegin(); (carry != 0 || j < used) && it != digits.rend();
             ++it, ++j) {
            carry += 256u * *it;
            *it = static_cast<std::uint8_t>(carry % 58);
            carry /= 58;
        }
        used = j;
    }
    auto it = digits.begin() + static_cast<std::ptrdiff_t>(digits.size() - used);
    while (it != digits.end() && *it == 0)
        ++it;
    std::string out(zeros, '1');
    for (; it != digits.end(); ++it)
        out.push_back(k_alphabet[*it]);
    return out;
}

std::optional<Bytes> base58_decode(std::string_view text) {
    std::size_t ones = 0;
    while (ones < text.size() && text[ones] == '1')
        ++ones;
    // log(58)/log(256) < 0.733
    std::vector<std::uint8_t> bytes((text.size() - ones) * 733 / 1000 + 1, 0);
    std::size_t used = 0;
    for (std::size_t i = ones; i < text.size(); ++i) {
        const int v = alphabet_index(text[i]);
        if (v < 0) return std::nullopt;
        unsigned carry = static_cast<unsigned>(v);
        std::size_t j = 0;
        for (auto it = bytes.rbegin(); (carry != 0 || j < used) && it != bytes.rend(); ++it, ++j) {
            carry += 58u * *it;
            *it = static_cast<std::uint8_t>(carry & 0xff);
            carry >>= 8;
        }
        used = j;
    }
    auto it = bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() - used);
    while (it != bytes.end() && *it == 0)
        ++it;
    Bytes out(ones, 0);
    out.insert(out.end(), it, bytes.end());
    return out;
}

std::string base58check_encode(ByteSpan payload) {
    Bytes buf(payload.begin(), payload.end());
    const Hash256 check = sha256d(payload);
    buf.insert(buf.end(), check.begin(), check.begin() + 4);
    return base58_encode(buf);
}

std::optional<Bytes> base58check_decode(std::string_view text) {
    auto raw = base58_decode(text);
    if (!raw || raw->size() < 4) return std::nullopt;
    const std::size_t n = raw->size() - 4;
    const Hash256 check = sha256d(ByteSpan(raw->data(), n));
    if (!std::equal(check.begin(), check.begin() + 4,
                    raw->begin() + static_cast<std::ptrdiff_t>(n)))
        return std::nullopt;
    raw->resize(n);
    return raw;
}

}  // namespace raregen::chain
