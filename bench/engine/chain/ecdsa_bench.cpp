// ECDSA signing cost: libsecp256k1 called directly (the reference the
// signing stage is measured against, docs/design.md "Performance aims") and our
// Secp256k1 wrapper, which adds DER serialization and the per-thread context.
#include "engine/chain/ecdsa.h"

#include <benchmark/benchmark.h>
#include <secp256k1.h>

#include <array>
#include <cstdint>

#include "bench/engine/chain/chain_bench.h"

namespace {

using raregen::bench::RawContext;
using raregen::chain::DerSignature;
using raregen::chain::Hash256;
using raregen::chain::Secp256k1;

// The reference: secp256k1_ecdsa_sign with the default (RFC 6979) nonce
// function, nothing else. The digest changes every iteration, as it does
// for real transactions.
void BM_RawEcdsaSign(benchmark::State& state) {
    const RawContext ctx;
    const auto key = raregen::bench::bench_private_key();
    Hash256 digest = raregen::bench::bench_digest();
    secp256k1_ecdsa_signature sig;
    std::uint64_t n = 0;
    for (auto _ : state) {
        raregen::bench::vary(digest, n++);
        if (!ctx.sign(sig, digest, key)) {
            state.SkipWithError("secp256k1_ecdsa_sign failed");
            break;
        }
        benchmark::DoNotOptimize(sig);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawEcdsaSign);

// DER encoding of one compact signature: the part of Secp256k1::sign that
// the reference does not include.
void BM_RawSignatureSerializeDer(benchmark::State& state) {
    const RawContext ctx;
    const auto key = raregen::bench::bench_private_key();
    const Hash256 digest = raregen::bench::bench_digest();
    secp256k1_ecdsa_signature sig;
    if (!ctx.sign(sig, digest, key)) {
        state.SkipWithError("secp256k1_ecdsa_sign failed");
        return;
    }
    std::array<unsigned char, 72> der{};
    for (auto _ : state) {
        std::size_t len = der.size();
        benchmark::DoNotOptimize(
            secp256k1_ecdsa_signature_serialize_der(ctx.get(), der.data(), &len, &sig));
        benchmark::DoNotOptimize(len);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawSignatureSerializeDer);

// Our wrapper: the thread's context, sign, DER.
void BM_Secp256k1Sign(benchmark::State& state) {
    const auto key = raregen::bench::bench_private_key();
    const Secp256k1& ctx = Secp256k1::for_this_thread();
    Hash256 digest = raregen::bench::bench_digest();
    DerSignature sig;
    std::uint64_t n = 0;
    for (auto _ : state) {
        raregen::bench::vary(digest, n++);
        if (!ctx.sign(digest, key, sig)) {
            state.SkipWithError("Secp256k1::sign failed");
            break;
        }
        benchmark::DoNotOptimize(sig);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Secp256k1Sign);

}  // namespace
