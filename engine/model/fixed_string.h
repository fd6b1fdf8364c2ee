#pragma once
// FixedString<N>: text of at most N bytes stored inline, so messages that
// carry identifiers stay trivially copyable and never allocate.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace raregen::model {

template <std::size_t N>
struct FixedString {
    static_assert(N <= 0xffff);
    std::array<char, N> data{};
    std::uint16_t size = 0;

    static constexpr std::size_t capacity() { return N; }
    // False (and unchanged) if `s` is longer than N.
    bool assign(std::string_view s) noexcept {
        if (s.size() > N) return false;
        if (!s.empty()) std::memcpy(data.data(), s.data(), s.size());
        size = static_cast<std::uint16_t>(s.size());
        return true;
    }
    std::string_view view() const noexcept { return {data.data(), size}; }
    bool empty() const noexcept { return size == 0; }
};

}  // namespace raregen::model
