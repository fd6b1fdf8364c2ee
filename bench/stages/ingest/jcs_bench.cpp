// RFC 8785 canonicalization of a typical RareGen record (docs/protocol.md section 6).
// Reports records per second (items_per_second).

#include "stages/ingest/jcs.h"

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <string>
#include <string_view>

namespace {

// A publish intent as clients send it: record fields in client order (not
// sorted), two owners, full distribution and terms.
constexpr std::string_view k_intent = R"({
  "protocol": "sl-drm",
  "version": 1,
  "record": {
    "type": "music",
    "assetId": "asset-7f3c2a91-4b1e-4d2a-9c6e-1a2b3c4d5e6f",
    "recordId": "rec-2024-05-01-000123",
    "event": "REGISTER",
    "timestamp": "2024-05-01T12:34:56.789Z",
    "owners": [
      {"partyId": "party-composer-0001", "role": "composer", "shareBps": 6000},
      {"partyId": "party-publisher-0042", "role": "publisher", "shareBps": 4000}
    ],
    "distribution": {
      "cdnUrl": "https://cdn.example.com/audio/7f3c2a91/master.flac",
      "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      "contentType": "audio/flac"
    },
    "terms": {
      "territory": "WW",
      "rights": ["stream", "download", "sync"],
      "mechanical": 0.091
    },
    "nonce": "b7e23ec29af22b0b4e41da31e868d57226121c84"
  },
  "signer": {"pubkey": "02a1633cafcc01ebfb6d78e39f687a1f0995c62fc95f51ead10a02ee0be551b5dc"},
  "signature": {"alg": "ES256K", "hash": "sha256", "sig": "MEUCIQDx"}
})";

// Canonicalize the already parsed record sub-object: the ingest hot path.
void bm_canonicalize_record(benchmark::State& state) {
    simdjson::dom::parser parser;
    simdjson::padded_string const intent(k_intent);
    simdjson::dom::element record;
    if (parser.parse(intent)["record"].get(record) != simdjson::SUCCESS) {
        state.SkipWithError("intent does not parse");
        return;
    }
    raregen::ingest::Canonicalizer canonicalizer;
    std::string out;
    for (auto _ : state) {
        auto const status = canonicalizer.canonicalize(record, out);
        benchmark::DoNotOptimize(status);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}
BENCHMARK(bm_canonicalize_record);

// Parse the whole intent and canonicalize its record, for scale.
void bm_parse_and_canonicalize_intent(benchmark::State& state) {
    simdjson::dom::parser parser;
    simdjson::padded_string const intent(k_intent);
    raregen::ingest::Canonicalizer canonicalizer;
    std::string out;
    for (auto _ : state) {
        simdjson::dom::element record;
        if (parser.parse(intent)["record"].get(record) != simdjson::SUCCESS) {
            state.SkipWithError("intent does not parse");
            return;
        }
        auto const status = canonicalizer.canonicalize(record, out);
        benchmark::DoNotOptimize(status);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_parse_and_canonicalize_intent);

}  // namespace
