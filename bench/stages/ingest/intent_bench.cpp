// Intent validation against raw secp256k1 verification, in one binary so the
// two figures come from the same machine state. items_per_second is intents
// (or verifications) per second on one core.
//
//   bm_secp256k1_verify_parsed   libsecp256k1 verify only (key and signature
//                                already parsed): the floor
//   bm_secp256k1_verify_der      chain::Secp256k1::verify: parse key + DER,
//                                normalize, verify (what ingest calls)
//   bm_validate_intent           IntentValidator::validate: parse the JSON,
//                                schema, timestamp, nonce check, JCS,
//                                SHA-256, base64 + DER, ECDSA verify, signer
//                                lookup (nonce store stubbed so intents can
//                                be replayed)
//   bm_nonce_store_record        InMemoryNonceStore check + record
//   bm_ingest_stage_file         the whole stage: read a file of intents,
//                                validate, job ids, facts, channel

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <secp256k1.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "engine/chain/ecdsa.h"
#include "engine/chain/hash.h"
#include "engine/chain/keys.h"
#include "stages/ingest/base64.h"
#include "stages/ingest/ingest_stage.h"
#include "stages/ingest/intent.h"
#include "tools/gen/intent_gen.h"

namespace {

using namespace raregen;
using namespace std::chrono_literals;

const ingest::WallTime k_now{std::chrono::seconds{1714564800}};

struct Corpus {
    std::vector<std::string> lines;
    std::string text;
    ingest::InMemorySignerRegistry registry;
};

// 1024 valid intents from 8 signers, generated once.
const Corpus& corpus() {
    static const Corpus c = [] {
        ingest::IntentGenOptions o;
        o.count = 1024;
        o.signers = 8;
        o.seed = 2024;
        o.timestamp = k_now;
        ingest::IntentGenerator gen(o);
        Corpus out;
        std::string line;
        while (!gen.done()) {
            gen.next(line);
            out.lines.push_back(line);
            out.text += line + "\n";
        }
        out.registry =
            *ingest::InMemorySignerRegistry::parse(gen.registry_text(), "bench").registry;
        return out;
    }();
    return c;
}

// Remembers nothing, so the same intents validate again and again.
class ForgetfulNonces final : public ingest::NonceStore {
  public:
    bool check(std::span<const std::uint8_t>, std::string_view,
               ingest::WallTime) noexcept override {
        return false;
    }
    ingest::NonceRecord record(std::span<const std::uint8_t>, std::string_view,
                               ingest::WallTime) noexcept override {
        return ingest::NonceRecord::recorded;
    }
};

struct Signed {
    chain::Hash256 digest{};
    chain::DerSignature der;
    chain::PublicKey pub;
};

Signed sample_signature() {
    std::array<std::uint8_t, 32> secret{};
    secret.fill(0x5a);
    const auto key = *chain::PrivateKey::from_bytes(secret);
    Signed s;
    s.digest = chain::sha256(std::span<const std::uint8_t>(secret));
    s.pub = chain::public_key_of(key, true);
    chain::Secp256k1::for_this_thread().sign(s.digest, key, s.der);
    return s;
}

void bm_secp256k1_verify_parsed(benchmark::State& state) {
    const Signed s = sample_signature();
    const auto& ctx = chain::Secp256k1::for_this_thread();
    secp256k1_pubkey pk;
    secp256k1_ecdsa_signature sig;
    if (secp256k1_ec_pubkey_parse(ctx.raw(), &pk, s.pub.bytes.data(), s.pub.size) != 1 ||
        secp256k1_ecdsa_signature_parse_der(ctx.raw(), &sig, s.der.bytes.data(), s.der.size) != 1) {
        state.SkipWithError("parse failed");
        return;
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(secp256k1_ecdsa_verify(ctx.raw(), &sig, s.digest.data(), &pk));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_secp256k1_verify_parsed);

void bm_secp256k1_verify_der(benchmark::State& state) {
    const Signed s = sample_signature();
    const auto& ctx = chain::Secp256k1::for_this_thread();
    for (auto _ : state) {
        benchmark::DoNotOptimize(ctx.verify(s.digest, s.der.span(), s.pub.span(), true));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_secp256k1_verify_der);

void bm_validate_intent(benchmark::State& state) {
    const Corpus& c = corpus();
    ForgetfulNonces nonces;
    ingest::IntentValidator validator(nonces, c.registry);
    std::size_t i = 0, rejected = 0;
    for (auto _ : state) {
        const auto& v = validator.validate(c.lines[i], k_now);
        rejected += v.accepted ? 0 : 1;
        if (++i == c.lines.size()) i = 0;
    }
    if (rejected != 0) state.SkipWithError("a corpus intent was rejected");
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_validate_intent);

void bm_nonce_store_record(benchmark::State& state) {
    ingest::InMemoryNonceStore store(1 << 20, 15min);
    std::array<std::uint8_t, 33> pub{};
    pub[0] = 0x02;
    std::uint64_t n = 0;
    char nonce[32];
    for (auto _ : state) {
        const int len =
            std::snprintf(nonce, sizeof nonce, "%016llx", static_cast<unsigned long long>(n++));
        const std::string_view nv(nonce, static_cast<std::size_t>(len));
        // Retention wraps every million so the table never fills.
        const ingest::WallTime t = k_now + std::chrono::minutes(16) * static_cast<int>(n >> 20);
        benchmark::DoNotOptimize(store.check(pub, nv, t));
        benchmark::DoNotOptimize(store.record(pub, nv, t));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_nonce_store_record);

void bm_ingest_stage_file(benchmark::State& state) {
    const Corpus& c = corpus();
    char path[] = "/tmp/raregen_intent_bench_XXXXXX";
    const int wfd = ::mkstemp(path);
    if (wfd < 0 ||
        ::write(wfd, c.text.data(), c.text.size()) != static_cast<ssize_t>(c.text.size())) {
        state.SkipWithError("cannot write the corpus file");
        return;
    }
    ::close(wfd);
    std::uint64_t jobs = 0;
    for (auto _ : state) {
        state.PauseTiming();
        const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        ingest::InMemoryNonceStore nonces(4096, 15min);
        model::CountingFactSink facts;
        flow::RunContext context;
        flow::Channel<model::Job> out(256);
        auto consumer = out.make_consumer();
        ingest::IngestOptions o;
        o.seed = 1;
        auto stage =
            std::make_unique<ingest::IngestStage>(fd, out, facts, context, nonces, c.registry, o);
        state.ResumeTiming();
        const flow::Nanos now = k_now.time_since_epoch();
        model::Job job;
        while (stage->step(now, 64) != flow::Step::finished) {
            while (consumer.try_dequeue(job))
                ++jobs;
        }
        while (consumer.try_dequeue(job))
            ++jobs;
        state.PauseTiming();
        stage.reset();
        ::close(fd);
        state.ResumeTiming();
    }
    ::unlink(path);
    if (jobs != state.iterations() * c.lines.size())
        state.SkipWithError("jobs were lost or rejected");
    state.SetItemsProcessed(static_cast<std::int64_t>(jobs));
}
BENCHMARK(bm_ingest_stage_file)->Unit(benchmark::kMillisecond);

}  // namespace
