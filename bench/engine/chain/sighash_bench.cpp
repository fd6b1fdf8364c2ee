// FORKID signature hash of a one-input transaction shaped like a RareGen
// publication (P2PKH input, data output, change), through the general
// Transaction path. The hot path (publication.cpp) hashes its preimage
// directly; this measures the general API tools and verification use.
#include "engine/chain/sighash.h"

#include <benchmark/benchmark.h>

#include <cstdint>

#include "bench/engine/chain/chain_bench.h"
#include "engine/chain/publication.h"

namespace {

using namespace raregen::chain;

struct SighashInput {
    Transaction tx;
    PublicationKey key{raregen::bench::bench_private_key()};
    std::int64_t amount = 100;
};

// Builds a signed publication transaction and parses it back.
SighashInput make_input() {
    SighashInput in;
    const RaregenPayload payload = raregen_payload(raregen::bench::bench_digest());
    const ByteSpan pushes[] = {payload.span()};
    PublicationOptions options;
    options.change = true;
    Utxo utxo;
    utxo.outpoint.txid.fill(0x5a);
    utxo.value = in.amount;
    PublicationBuilder builder;
    Bytes raw;
    if (!builder.build(in.key, utxo, pushes, options, raw, nullptr).ok() ||
        !parse_transaction(raw, in.tx).ok())
        in.tx = Transaction{};
    return in;
}

void BM_SignatureHash(benchmark::State& state) {
    SighashInput in = make_input();
    if (in.tx.inputs.size() != 1) {
        state.SkipWithError("could not build the sample transaction");
        return;
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(in.tx);
        Hash256 h =
            signature_hash(in.tx, 0, in.key.locking_script(), in.amount, sighash::k_all_forkid);
        benchmark::DoNotOptimize(h);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignatureHash);

// Per-input cost once hashPrevouts/hashSequence/hashOutputs are known.
void BM_SignatureHashCached(benchmark::State& state) {
    SighashInput in = make_input();
    if (in.tx.inputs.size() != 1) {
        state.SkipWithError("could not build the sample transaction");
        return;
    }
    const SighashCache cache = SighashCache::compute(in.tx);
    for (auto _ : state) {
        benchmark::DoNotOptimize(in.tx);
        Hash256 h = signature_hash(in.tx, cache, 0, in.key.locking_script(), in.amount,
                                   sighash::k_all_forkid);
        benchmark::DoNotOptimize(h);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignatureHashCached);

}  // namespace
