#pragma once
// Comparing secrets without telling an attacker how close a guess was: the
// one check of an `Authorization: Bearer <token>` header, used by every
// endpoint that takes a token (ARC callbacks, the local network's API key).
// Tokens themselves are never logged or echoed.

#include <cstddef>
#include <string_view>

namespace raregen::chain {

// True iff a == b. Reads every byte of `a` whatever it holds, with no early
// exit, so the time taken does not tell how much of a guess was right (only
// the length of `a`, which the guesser knows).
inline bool same_secret(std::string_view a, std::string_view b) noexcept {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
    return diff == 0;
}

// True iff `authorization` is "Bearer <token>" with exactly `token`. An empty
// expected token matches nothing (an endpoint that needs none does not call
// this).
inline bool bearer_matches(std::string_view authorization, std::string_view token) noexcept {
    constexpr std::string_view k_bearer = "Bearer ";
    if (token.empty() || authorization.size() <= k_bearer.size() ||
        authorization.substr(0, k_bearer.size()) != k_bearer)
        return false;
    return same_secret(authorization.substr(k_bearer.size()), token);
}

}  // namespace raregen::chain
