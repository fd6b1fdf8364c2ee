// Double SHA-256 of a publication-sized buffer (a RareGen transaction with
// change is 298-299 bytes): the cost of one txid. Two references next to
// ours show what OpenSSL costs by itself, called two other ways:
// - the low-level SHA256_Init/Update/Final on a stack context;
// - EVP with the digest fetched once and one EVP_MD_CTX reused.
// OpenSSL 3's one-shot SHA256() fetches the digest and allocates a context on
// every call (EVP_Q_digest); the gap between ours and these is that cost.
#define OPENSSL_SUPPRESS_DEPRECATED 1  // SHA256_Init & co. are the reference
#include "engine/chain/hash.h"

#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstdint>
#include <vector>

namespace {

using raregen::chain::Bytes;
using raregen::chain::Hash256;

Bytes sample_300() {
    Bytes data(300);
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<std::uint8_t>(i * 7);
    return data;
}

void finish(benchmark::State& state, std::size_t size) {
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}

void BM_Sha256d300(benchmark::State& state) {
    const Bytes data = sample_300();
    for (auto _ : state) {
        benchmark::DoNotOptimize(data.data());
        Hash256 h = raregen::chain::sha256d(data);
        benchmark::DoNotOptimize(h);
    }
    finish(state, data.size());
}
BENCHMARK(BM_Sha256d300);

void BM_OpensslLowLevelSha256d300(benchmark::State& state) {
    const Bytes data = sample_300();
    for (auto _ : state) {
        benchmark::DoNotOptimize(data.data());
        Hash256 once, twice;
        SHA256_CTX ctx;
        SHA256_Init(&ctx);
        SHA256_Update(&ctx, data.data(), data.size());
        SHA256_Final(once.data(), &ctx);
        SHA256_Init(&ctx);
        SHA256_Update(&ctx, once.data(), once.size());
        SHA256_Final(twice.data(), &ctx);
        benchmark::DoNotOptimize(twice);
    }
    finish(state, data.size());
}
BENCHMARK(BM_OpensslLowLevelSha256d300);

void BM_OpensslEvpReusedSha256d300(benchmark::State& state) {
    const Bytes data = sample_300();
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (md == nullptr || ctx == nullptr) {
        state.SkipWithError("EVP set-up failed");
    } else {
        for (auto _ : state) {
            benchmark::DoNotOptimize(data.data());
            Hash256 once, twice;
            EVP_DigestInit_ex2(ctx, md, nullptr);
            EVP_DigestUpdate(ctx, data.data(), data.size());
            EVP_DigestFinal_ex(ctx, once.data(), nullptr);
            EVP_DigestInit_ex2(ctx, md, nullptr);
            EVP_DigestUpdate(ctx, once.data(), once.size());
            EVP_DigestFinal_ex(ctx, twice.data(), nullptr);
            benchmark::DoNotOptimize(twice);
        }
        finish(state, data.size());
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
}
BENCHMARK(BM_OpensslEvpReusedSha256d300);

}  // namespace
