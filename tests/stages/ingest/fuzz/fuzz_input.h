#pragma once
// What the ingest fuzzer and its seed writer agree on: how one fuzz input is
// split, and the wall time intents are judged at.
//
// An input is `REGISTRY \0 INTENT`: the bytes before the first NUL are a
// signer registry (InMemorySignerRegistry::parse), the bytes after it one
// intent (IntentValidator::validate) checked against that registry. Without
// a NUL the whole input is tried as both. A JSON intent cannot contain a raw
// NUL, so the split never cuts a valid intent, and every reproducer carries
// the registry its intent was judged with.

#include <chrono>
#include <string_view>

#include "engine/model/wall_time.h"

namespace raregen::ingest::fuzz {

// 2024-05-01T12:00:00Z. Fixed, so a reproducer behaves the same on any day;
// the seed writer dates its intents just before it.
inline constexpr WallTime k_now{std::chrono::seconds{1714564800}};

struct FuzzInput {
    std::string_view registry;
    std::string_view intent;
};

inline FuzzInput split_input(std::string_view data) noexcept {
    const std::size_t nul = data.find('\0');
    if (nul == std::string_view::npos) return {data, data};
    return {data.substr(0, nul), data.substr(nul + 1)};
}

}  // namespace raregen::ingest::fuzz
