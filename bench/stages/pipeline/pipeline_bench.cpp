// The whole in-memory pipeline (ingest -> sequence -> sign -> gate -> send)
// with the gate open, next to the two ECDSA operations every job costs,
// measured in the same binary (issue 3; docs/design.md "Performance aims").
//
//   BM_PipelineInMemory/N   N valid intents (generated once, not timed) read
//                           from a temporary file, verified, batched, signed,
//                           passed through an open gate (capacity
//                           gate::k_max_capacity) to a sink that counts and
//                           discards. Time: wall clock from start() to the
//                           end of the drain (manual timing), so
//                           items_per_second is jobs per second on the
//                           pipeline's 2 runner threads.
//   BM_RawEcdsaSign         secp256k1_ecdsa_sign, one thread (RFC 6979)
//   BM_RawEcdsaVerify       secp256k1_ecdsa_verify, one thread, key and
//                           signature already parsed: the floor of the check
//                           ingest makes
//   BM_Secp256k1VerifyDer   chain::Secp256k1::verify, what ingest calls:
//                           parse the compressed key (a square root) and the
//                           DER, normalize, verify
//
// BM_PipelineInMemory's counters, per job unless said otherwise:
//   ingest_us, sign_us, seq_gate_send_us   busy time (wall time inside
//       step()) from Pipeline::report()
//   worker0_cpu_us, signing_cpu_us   CPU time of runner thread 0 (ingest,
//       sequence, gate, send) and of the signing threads (runner thread 1
//       and the sign stage's helper), sampled from /proc
//   cpu_us, cpu_cores   the process's CPU time; cores it kept busy
//   others_cores, idle_cores   cores other processes used, and left idle,
//       during the timed runs (a shared box rarely gives all 2)
//   raw_sign_per_s, raw_verify_per_s, ceiling_ratio   raw rates measured on
//       the benchmark thread right before and after the runs, and e2e over
//       the ceiling computed from them
//
// After the run, main() prints the ceiling ratio: e2e jobs/s over what two
// cores doing nothing but the two ECDSA operations would reach,
// 2 / (1/sign_rate + 1/verify_rate), the same for the cores the pipeline
// actually got, and how the time splits between verify and sign.
//
//   raregen_pipeline_bench --benchmark_repetitions=3
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <secp256k1.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/engine/chain/chain_bench.h"
#include "engine/chain/ecdsa.h"
#include "engine/chain/publication.h"
#include "engine/flow/clock.h"
#include "engine/model/facts.h"
#include "engine/model/nonce_store.h"
#include "engine/model/signer_registry.h"
#include "engine/model/utxo_ring.h"
#include "engine/model/wall_time.h"
#include "stages/pipeline/pipeline.h"
#include "tools/gen/intent_gen.h"

namespace {

using namespace raregen;
namespace ch = raregen::chain;

constexpr std::size_t k_intents = 20'000;
constexpr double k_cores = 2.0;  // the pipeline's runner threads, and the box

// ---- raw ECDSA --------------------------------------------------------------

// Signatures over varied digests, made once, so verify sees a different
// (digest, signature) pair on every call as ingest does.
struct VerifySet {
    static constexpr std::size_t k_size = 1024;
    secp256k1_pubkey pubkey{};
    std::array<unsigned char, 33> pubkey_bytes{};
    std::vector<ch::Hash256> digests;
    std::vector<secp256k1_ecdsa_signature> sigs;
    std::vector<ch::DerSignature> ders;
};

const VerifySet& verify_set() {
    static const VerifySet set = [] {
        const bench::RawContext ctx;
        const ch::PrivateKey key = bench::bench_private_key();
        VerifySet s;
        if (secp256k1_ec_pubkey_create(ctx.get(), &s.pubkey, key.secret().data()) != 1)
            throw std::runtime_error("secp256k1_ec_pubkey_create failed");
        std::size_t len = s.pubkey_bytes.size();
        secp256k1_ec_pubkey_serialize(ctx.get(), s.pubkey_bytes.data(), &len, &s.pubkey,
                                      SECP256K1_EC_COMPRESSED);
        ch::Hash256 digest = bench::bench_digest();
        const ch::Secp256k1& wrapper = ch::Secp256k1::for_this_thread();
        for (std::size_t i = 0; i < VerifySet::k_size; ++i) {
            bench::vary(digest, i);
            secp256k1_ecdsa_signature sig;
            ch::DerSignature der;
            if (!ctx.sign(sig, digest, key) || !wrapper.sign(digest, key, der))
                throw std::runtime_error("secp256k1_ecdsa_sign failed");
            s.digests.push_back(digest);
            s.sigs.push_back(sig);
            s.ders.push_back(der);
        }
        return s;
    }();
    return set;
}

// Raw operations per second on this thread over about `seconds`.
template <class Op>
double rate_of(double seconds, Op op) {
    std::uint64_t n = 0;
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::duration<double>(seconds);
    auto now = start;
    do {
        for (int i = 0; i < 32; ++i)
            if (!op(n++)) return 0;
        now = std::chrono::steady_clock::now();
    } while (now < until);
    return static_cast<double>(n) / std::chrono::duration<double>(now - start).count();
}

double raw_sign_rate(double seconds) {
    const bench::RawContext ctx;
    const ch::PrivateKey key = bench::bench_private_key();
    ch::Hash256 digest = bench::bench_digest();
    secp256k1_ecdsa_signature sig;
    return rate_of(seconds, [&](std::uint64_t n) {
        bench::vary(digest, n);
        const bool ok = ctx.sign(sig, digest, key);
        benchmark::DoNotOptimize(sig);
        return ok;
    });
}

double raw_verify_rate(double seconds) {
    const bench::RawContext ctx;
    const VerifySet& s = verify_set();
    return rate_of(seconds, [&](std::uint64_t n) {
        const std::size_t i = n % VerifySet::k_size;
        return secp256k1_ecdsa_verify(ctx.get(), &s.sigs[i], s.digests[i].data(), &s.pubkey) == 1;
    });
}

void BM_RawEcdsaSign(benchmark::State& state) {
    const bench::RawContext ctx;
    const ch::PrivateKey key = bench::bench_private_key();
    ch::Hash256 digest = bench::bench_digest();
    secp256k1_ecdsa_signature sig;
    std::uint64_t n = 0;
    for (auto _ : state) {
        bench::vary(digest, n++);
        if (!ctx.sign(sig, digest, key)) {
            state.SkipWithError("secp256k1_ecdsa_sign failed");
            break;
        }
        benchmark::DoNotOptimize(sig);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawEcdsaSign);

void BM_RawEcdsaVerify(benchmark::State& state) {
    const bench::RawContext ctx;
    const VerifySet& s = verify_set();
    std::size_t i = 0;
    for (auto _ : state) {
        if (secp256k1_ecdsa_verify(ctx.get(), &s.sigs[i], s.digests[i].data(), &s.pubkey) != 1) {
            state.SkipWithError("secp256k1_ecdsa_verify refused a valid signature");
            break;
        }
        i = (i + 1) % VerifySet::k_size;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawEcdsaVerify);

void BM_Secp256k1VerifyDer(benchmark::State& state) {
    const ch::Secp256k1& ctx = ch::Secp256k1::for_this_thread();
    const VerifySet& s = verify_set();
    std::size_t i = 0;
    for (auto _ : state) {
        const ch::VerifyError e =
            ctx.verify(s.digests[i], s.ders[i].span(), ch::ByteSpan(s.pubkey_bytes), true);
        if (e != ch::VerifyError::ok) {
            state.SkipWithError("Secp256k1::verify refused a valid signature");
            break;
        }
        i = (i + 1) % VerifySet::k_size;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Secp256k1VerifyDer);

// ---- the pipeline -----------------------------------------------------------

// Counts and drops: the network side costs nothing here, so what is measured
// is the engine.
class DiscardingSink final : public send::TxSink {
  public:
    send::SinkStatus try_send(const model::Job&) noexcept override {
        m_count.store(m_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return send::SinkStatus::accepted;
    }
    bool flush() noexcept override { return true; }
    std::string_view last_error() const noexcept override { return "no error"; }
    std::uint64_t count() const noexcept { return m_count.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> m_count{0};
};

// The generated input, in an unlinked temporary file, and what runs need
// besides it. Made once per process (about 1 s of signing per 20,000).
struct Input {
    int fd = -1;
    std::size_t count = 0;
    ingest::InMemorySignerRegistry registry;
    std::vector<ch::Utxo> utxos;
    ch::PublicationKey key{bench::bench_private_key()};
};

const Input& input(std::size_t count) {
    static std::map<std::size_t, Input> made;
    if (auto it = made.find(count); it != made.end()) return it->second;
    ingest::IntentGenOptions o;
    o.count = count;
    o.signers = 8;
    o.seed = 3;
    o.timestamp =
        std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
    ingest::IntentGenerator gen(o);
    std::string text, line;
    while (!gen.done()) {
        gen.next(line);
        text += line;
        text += '\n';
    }
    Input& in = made[count];
    in.count = count;
    auto loaded = ingest::InMemorySignerRegistry::parse(gen.registry_text(), "bench");
    if (!loaded) throw std::runtime_error("generated registry: " + loaded.error);
    in.registry = std::move(*loaded.registry);

    char path[] = "/tmp/raregen_pipeline_bench_XXXXXX";
    in.fd = ::mkstemp(path);
    if (in.fd < 0) throw std::runtime_error("cannot create a temporary file in /tmp");
    ::unlink(path);
    for (std::size_t off = 0; off < text.size();) {
        const ssize_t w = ::write(in.fd, text.data() + off, text.size() - off);
        if (w <= 0) throw std::runtime_error("cannot write the intents to /tmp");
        off += static_cast<std::size_t>(w);
    }
    in.utxos.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t x = i;
        in.utxos[i].outpoint.txid =
            ch::sha256(ch::ByteSpan(reinterpret_cast<const std::uint8_t*>(&x), 8));
        in.utxos[i].outpoint.vout = static_cast<std::uint32_t>(i % 3);
        in.utxos[i].value = 1000;
    }
    return in;
}

// CPU time per thread of this process, by sampling /proc/self/task/*/stat
// every 10 ms from its own thread while the pipeline runs (runner threads
// are gone once wait() returns, so their totals cannot be read after). Splits
// the run's CPU into the light worker ("raregen-flow-0": ingest, sequence,
// gate, send) and everything else the pipeline started (worker 1 and the
// sign stage's helpers). Resolution: the kernel's 10 ms tick, and the last
// sample may miss up to 10 ms per thread.
class ThreadCpuSampler {
  public:
    struct Split {
        double light_s = 0;  // raregen-flow-0
        double other_s = 0;  // worker 1 and the helpers: the signing threads
    };

    // Call before start(): threads existing now (the sign stage's helpers,
    // made in the Pipeline constructor) are baselined, not skipped.
    void begin() {
        m_excluded.insert(static_cast<pid_t>(::syscall(SYS_gettid)));
        m_base = read();
        m_last = m_base;
        m_stop.store(false);
        m_thread = std::thread([this] {
            {
                std::lock_guard lock(m_mu);
                m_excluded.insert(static_cast<pid_t>(::syscall(SYS_gettid)));
            }
            while (!m_stop.load()) {
                auto now = read();
                std::lock_guard lock(m_mu);
                for (auto& [tid, t] : now)
                    m_last[tid] = t;
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        });
    }

    Split end() {
        m_stop.store(true);
        m_thread.join();
        for (auto& [tid, t] : read())
            m_last[tid] = t;
        Split s;
        const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
        for (const auto& [tid, t] : m_last) {
            if (m_excluded.count(tid) != 0) continue;
            const auto base = m_base.find(tid);
            const long ticks = t.ticks - (base != m_base.end() ? base->second.ticks : 0);
            (t.comm == "raregen-flow-0" ? s.light_s : s.other_s) +=
                static_cast<double>(ticks) / tick;
        }
        m_excluded.clear();
        return s;
    }

  private:
    struct Thread {
        std::string comm;
        long ticks = 0;  // utime + stime
    };

    static std::map<pid_t, Thread> read() {
        std::map<pid_t, Thread> out;
        DIR* dir = ::opendir("/proc/self/task");
        if (dir == nullptr) return out;
        while (const dirent* e = ::readdir(dir)) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
            std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/stat");
            std::string text;
            std::getline(f, text);
            // "tid (comm) state ppid ... utime stime ...": comm may hold
            // spaces, so fields are counted after the last ')'.
            const std::size_t open = text.find('('), close = text.rfind(')');
            if (open == std::string::npos || close == std::string::npos) continue;
            std::istringstream rest(text.substr(close + 2));
            std::string field;
            long utime = 0, stime = 0;
            for (int i = 3; i <= 15 && rest >> field; ++i) {
                if (i == 14) utime = std::stol(field);
                if (i == 15) stime = std::stol(field);
            }
            out[static_cast<pid_t>(std::stol(e->d_name))] = {
                text.substr(open + 1, close - open - 1), utime + stime};
        }
        ::closedir(dir);
        return out;
    }

    std::mutex m_mu;
    std::set<pid_t> m_excluded;
    std::map<pid_t, Thread> m_base, m_last;
    std::atomic<bool> m_stop{false};
    std::thread m_thread;
};

// The whole machine's CPU time from /proc/stat (all processes, all cores),
// to tell load from other processes apart from the pipeline's own idling.
struct MachineCpu {
    double busy_s = 0;
    double idle_s = 0;
};

MachineCpu machine_cpu() {
    std::ifstream f("/proc/stat");
    std::string cpu;
    long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    return {static_cast<double>(user + nice + system + irq + softirq + steal) / tick,
            static_cast<double>(idle + iowait) / tick};
}

double process_cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Names in Pipeline::report(), in flow order.
constexpr std::array<const char*, 5> k_stages = {"ingest", "sequence", "sign", "gate", "send"};

void BM_PipelineInMemory(benchmark::State& state) {
    const auto count = static_cast<std::size_t>(state.range(0));
    const Input& in = input(count);
    const double sign_before = raw_sign_rate(0.2);
    const double verify_before = raw_verify_rate(0.2);

    std::array<double, k_stages.size()> busy_s{};
    double wall = 0, cpu = 0, light_cpu = 0, sign_cpu = 0, others = 0, idle = 0;
    std::uint64_t jobs = 0;
    for (auto _ : state) {
        // Set-up, not timed: fresh nonces (the same intents run again), a
        // full ring, a new graph (its channels, stages and helper threads).
        flow::SteadyClock clock;
        pipeline::PipelineConfig config;
        // The intents were dated when first generated; repetitions may run
        // long after that.
        config.ingest.validator.max_age = std::chrono::hours(24);
        ingest::InMemoryNonceStore nonces(
            2 * count, config.ingest.validator.max_age + config.ingest.validator.max_future);
        utxo::UtxoRing ring(count + 1);
        if (ring.try_push_bulk(in.utxos) != in.utxos.size()) {
            state.SkipWithError("the UTXO ring refused outpoints");
            break;
        }
        model::CountingFactSink facts;
        DiscardingSink sink;
        config.batch_prefix = "bench";
        config.gate.capacity = gate::k_max_capacity;  // open
        config.sign.publication.change = true;        // the seed's shape
        config.ingest.seed = 1;
        config.ingest.wall_offset = ingest::wall_clock_offset(clock);
        pipeline::PipelineParts parts;
        if (::lseek(in.fd, 0, SEEK_SET) != 0) {
            state.SkipWithError("cannot rewind the intents file");
            break;
        }
        parts.input_fd = in.fd;
        parts.nonces = &nonces;
        parts.signers = &in.registry;
        parts.ring = &ring;
        parts.key = &in.key;
        parts.sink = &sink;
        parts.facts = &facts;
        parts.clock = &clock;
        std::optional<pipeline::Pipeline> pipe;
        pipe.emplace(config, parts);

        ThreadCpuSampler sampler;
        sampler.begin();
        const MachineCpu box0 = machine_cpu();
        const double cpu0 = process_cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        pipe->run();
        const auto t1 = std::chrono::steady_clock::now();
        const double cpu1 = process_cpu_seconds();
        const MachineCpu box1 = machine_cpu();
        const ThreadCpuSampler::Split split = sampler.end();
        const double seconds = std::chrono::duration<double>(t1 - t0).count();
        state.SetIterationTime(seconds);

        if (sink.count() != count || pipe->sign().failed() != 0) {
            state.SkipWithError(("only " + std::to_string(sink.count()) + " of " +
                                 std::to_string(count) + " jobs reached the sink (" +
                                 std::to_string(pipe->ingest().counters().rejected()) +
                                 " rejected at ingest, " + std::to_string(pipe->sign().failed()) +
                                 " failed to sign)")
                                    .c_str());
            break;
        }
        wall += seconds;
        cpu += cpu1 - cpu0;
        others += (box1.busy_s - box0.busy_s) - (cpu1 - cpu0);
        idle += box1.idle_s - box0.idle_s;
        light_cpu += split.light_s;
        sign_cpu += split.other_s;
        jobs += sink.count();
        for (const pipeline::StageReport& r : pipe->report()) {
            for (std::size_t i = 0; i < k_stages.size(); ++i)
                if (r.name == k_stages[i])
                    busy_s[i] += static_cast<double>(r.counters.busy_ns) / 1e9;
        }
    }
    if (jobs == 0) return;
    state.SetItemsProcessed(static_cast<std::int64_t>(jobs));

    const double sign_rate = (sign_before + raw_sign_rate(0.2)) / 2;
    const double verify_rate = (verify_before + raw_verify_rate(0.2)) / 2;
    const double jobs_per_s = static_cast<double>(jobs) / wall;
    const double ceiling = k_cores / (1 / sign_rate + 1 / verify_rate);
    const double per_job_us = 1e6 / static_cast<double>(jobs);
    state.counters["raw_sign_per_s"] = sign_rate;
    state.counters["raw_verify_per_s"] = verify_rate;
    state.counters["ceiling_ratio"] = jobs_per_s / ceiling;
    state.counters["cpu_cores"] = cpu / wall;
    // Cores used by other processes, and left idle, during the timed runs.
    state.counters["others_cores"] = std::max(0.0, others / wall);
    state.counters["idle_cores"] = idle / wall;
    state.counters["ingest_us"] = busy_s[0] * per_job_us;
    state.counters["sign_us"] = busy_s[2] * per_job_us;
    state.counters["seq_gate_send_us"] = (busy_s[1] + busy_s[3] + busy_s[4]) * per_job_us;
    state.counters["cpu_us"] = cpu * per_job_us;
    state.counters["worker0_cpu_us"] = light_cpu * per_job_us;
    state.counters["signing_cpu_us"] = sign_cpu * per_job_us;
}
BENCHMARK(BM_PipelineInMemory)
    ->Arg(k_intents)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

// ---- the report -------------------------------------------------------------

// Passes everything to the console reporter and keeps each counter per
// benchmark (the median aggregate when there are repetitions).
class Collector : public benchmark::ConsoleReporter {
  public:
    Collector() : ConsoleReporter(isatty(fileno(stdout)) ? OO_Defaults : OO_Tabular) {}

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& run : runs) {
            if (run.error_occurred) continue;
            const std::string& name = run.run_name.function_name;
            for (const auto& [counter, value] : run.counters) {
                if (run.run_type == Run::RT_Aggregate) {
                    if (run.aggregate_name == "median") m_median[name][counter] = value.value;
                } else {
                    m_each[name][counter].push_back(value.value);
                }
            }
        }
        ConsoleReporter::ReportRuns(runs);
    }

    // 0 if the benchmark did not run.
    double value(const std::string& name, const std::string& counter) const {
        if (const auto b = m_median.find(name); b != m_median.end())
            if (const auto c = b->second.find(counter); c != b->second.end()) return c->second;
        const auto b = m_each.find(name);
        if (b == m_each.end()) return 0;
        const auto c = b->second.find(counter);
        if (c == b->second.end() || c->second.empty()) return 0;
        std::vector<double> v = c->second;
        std::sort(v.begin(), v.end());
        const std::size_t mid = v.size() / 2;
        return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
    }

  private:
    std::map<std::string, std::map<std::string, double>> m_median;
    std::map<std::string, std::map<std::string, std::vector<double>>> m_each;
};

void print_summary(const Collector& r) {
    const std::string e2e = "BM_PipelineInMemory";
    const double jobs = r.value(e2e, "items_per_second");
    const double sign = r.value("BM_RawEcdsaSign", "items_per_second");
    const double verify = r.value("BM_RawEcdsaVerify", "items_per_second");
    const double verify_der = r.value("BM_Secp256k1VerifyDer", "items_per_second");
    std::printf("\nIn-memory pipeline, gate open, 2 runner threads (median over repetitions):\n");
    if (jobs <= 0) {
        std::printf("  n/a: run BM_PipelineInMemory (e.g. without --benchmark_filter)\n");
        return;
    }
    std::printf("  end to end           %9.0f jobs/s\n", jobs);
    if (sign > 0 && verify > 0) {
        const double ceiling = k_cores / (1 / sign + 1 / verify);
        std::printf("  raw sign, 1 thread   %9.0f /s  (%.1f us)\n", sign, 1e6 / sign);
        std::printf("  raw verify, 1 thread %9.0f /s  (%.1f us)\n", verify, 1e6 / verify);
        if (verify_der > 0)
            std::printf("  verify as ingest calls it (key + DER parse) %9.0f /s  (%.1f us)\n",
                        verify_der, 1e6 / verify_der);
        std::printf("  pure-ECDSA ceiling, 2 cores: 2 / (1/sign + 1/verify) = %.0f jobs/s\n",
                    ceiling);
        std::printf("  e2e / ceiling        %9.3f  (separate benchmarks)\n", jobs / ceiling);
        // On a shared box the pipeline may get less than 2 cores: the same
        // ceiling for the CPU it was given (= ECDSA time over CPU time per job).
        const double cores = r.value(e2e, "cpu_cores");
        if (cores > 0)
            std::printf("  e2e / ceiling for the %.2f cores it got %6.3f\n", cores,
                        jobs / (ceiling * cores / k_cores));
    } else {
        std::printf("  ceiling n/a: run BM_RawEcdsaSign and BM_RawEcdsaVerify too\n");
    }
    std::printf(
        "  e2e / ceiling        %9.3f  (raw rates measured inside the e2e benchmark: "
        "sign %.0f /s, verify %.0f /s)\n",
        r.value(e2e, "ceiling_ratio"), r.value(e2e, "raw_sign_per_s"),
        r.value(e2e, "raw_verify_per_s"));
    const double ingest = r.value(e2e, "ingest_us"), signing = r.value(e2e, "sign_us"),
                 light = r.value(e2e, "seq_gate_send_us"), cpu = r.value(e2e, "cpu_us"),
                 cpu0 = r.value(e2e, "worker0_cpu_us"), cpu_sign = r.value(e2e, "signing_cpu_us");
    std::printf("  per job, us            wall busy in step()   CPU\n");
    std::printf(
        "    whole run            %8.1f (1/rate)     %6.1f  (%.2f of 2 cores; other "
        "processes %.2f, idle %.2f)\n",
        1e6 / jobs, cpu, r.value(e2e, "cpu_cores"), r.value(e2e, "others_cores"),
        r.value(e2e, "idle_cores"));
    std::printf(
        "    worker 0: ingest     %8.1f                %6.1f  (with sequence, gate, send: "
        "%.1f us busy)\n",
        ingest, cpu0, light);
    std::printf("    sign (worker 1 + helper) %4.1f                %6.1f\n", signing, cpu_sign);
    if (sign > 0 && verify_der > 0 && cpu0 > 0 && cpu_sign > 0)
        std::printf(
            "  ECDSA in it: verify %.1f us = %.0f%% of worker 0's CPU; sign %.1f us = %.0f%% "
            "of the signing CPU; together %.0f%% of the run's CPU\n",
            1e6 / verify_der, 100 * (1e6 / verify_der) / cpu0, 1e6 / sign,
            100 * (1e6 / sign) / cpu_sign, 100 * (1e6 / verify_der + 1e6 / sign) / cpu);
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    Collector reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    print_summary(reporter);
    return 0;
}
