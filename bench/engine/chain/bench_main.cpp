// Runs the chain benchmarks, then prints the ratio docs/design.md's first
// performance aim is stated in: publication transactions built and signed
// per second over raw secp256k1_ecdsa_sign calls per second (aim >= 0.9).
//
// Two estimates, both for the RareGen payload with change:
// - separate: BM_PublicationBuild items/s over BM_RawEcdsaSign items/s;
// - interleaved: BM_PublicationVsRawSign, which alternates both in one
//   benchmark, so load from other processes falls on both sides alike (the
//   one to trust on a shared machine).
// With repetitions the median aggregate is used. A filter that leaves a side
// out prints why no ratio is given.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench/engine/chain/chain_bench.h"

namespace {

// Passes everything to the console reporter and keeps every counter value
// per benchmark and counter name.
class RatioReporter : public benchmark::ConsoleReporter {
  public:
    // Colour only on a terminal, so redirected output stays plain text.
    RatioReporter() : ConsoleReporter(isatty(fileno(stdout)) ? OO_Defaults : OO_Tabular) {}

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

    // The median aggregate if one was reported, else the median of the runs
    // seen; 0 if the benchmark did not run.
    double value(const std::string& name, const std::string& counter) const {
        if (const auto b = m_median.find(name); b != m_median.end()) {
            if (const auto c = b->second.find(counter); c != b->second.end()) return c->second;
        }
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
    using Counters = std::map<std::string, double>;
    std::map<std::string, Counters> m_median;
    std::map<std::string, std::map<std::string, std::vector<double>>> m_each;
};

constexpr double k_aim = 0.9;

// `judged`: only the interleaved estimate is held against the aim; the
// separate one is printed for reference.
void print_line(const char* label, double built, double reference, const char* missing,
                bool judged) {
    if (built <= 0 || reference <= 0) {
        std::printf("  %-10s n/a: run %s (e.g. without --benchmark_filter)\n", label, missing);
        return;
    }
    const double ratio = built / reference;
    std::printf("  %-10s %8.0f tx/s / %8.0f sign/s = %.3f", label, built, reference, ratio);
    if (judged) std::printf("  %s (aim >= %.2f)", ratio >= k_aim ? "meets" : "BELOW", k_aim);
    std::printf("\n");
}

void print_ratios(const RatioReporter& r) {
    namespace b = raregen::bench;
    const std::string separate_missing =
        std::string(b::k_reference_bench) + " and BM_PublicationBuild/raregen_change_*";
    const char* interleaved_missing = "BM_PublicationVsRawSign/raregen_change_*";
    const double reference = r.value(b::k_reference_bench, "items_per_second");
    std::printf(
        "\nSigning-stage ratio, RareGen payload (94 B) with change: publication tx/s over raw "
        "secp256k1_ecdsa_sign/s\n");
    std::printf(" interleaved in one benchmark (thread CPU time; the figure to trust):\n");
    print_line("raw only:", r.value(b::k_interleaved_raw_bench, "publication_per_s"),
               r.value(b::k_interleaved_raw_bench, "raw_sign_per_s"), interleaved_missing, true);
    print_line("raw + EF:", r.value(b::k_interleaved_ef_bench, "publication_per_s"),
               r.value(b::k_interleaved_ef_bench, "raw_sign_per_s"), interleaved_missing, true);
    std::printf(
        " separate benchmarks (indicative only: load on a shared machine changes between "
        "runs):\n");
    print_line("raw only:", r.value(b::k_publication_raw_bench, "items_per_second"), reference,
               separate_missing.c_str(), false);
    print_line("raw + EF:", r.value(b::k_publication_ef_bench, "items_per_second"), reference,
               separate_missing.c_str(), false);
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    print_ratios(reporter);
    return 0;
}
