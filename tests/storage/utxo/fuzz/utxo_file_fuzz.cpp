// libFuzzer target for the UTXO file parser (style.md: a fuzzer for every
// parser): parse_utxo_text over arbitrary bytes.
//
// Beyond "no crash, no sanitizer report", each input is checked against what
// utxo_file.h promises; a failed check calls abort() so libFuzzer keeps the
// input as a crash:
// - ok() iff no error was counted; then no errors are listed, else at most
//   max_reported are, sorted by line, each with a message, and no UTXO is
//   returned (a file with a bad line is refused whole);
// - the error count does not depend on how many errors are kept;
// - what is accepted holds distinct outpoints with values in
//   [min_value, 21e6 BSV], and writing it back with format_utxo_line and
//   parsing that gives the same UTXOs in the same order;
// - describe() is empty iff ok() and otherwise names the source.
//
// Run by ctest as fuzz.utxo_file (see CMakeLists.txt), or by hand:
//   raregen_utxo_fuzz CORPUS_DIR seeds/ -dict=utxo_file.dict -max_total_time=120
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <tuple>

#include "engine/chain/tx.h"
#include "storage/utxo/utxo_file.h"

namespace {

using namespace raregen;

using raregen::chain::k_max_money;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "utxo_file_fuzz: check failed: %s\n", what);
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok) fail(what);
}

void check_result(const utxo::UtxoFileResult& r, const utxo::UtxoFileOptions& o) {
    check(r.ok() == (r.error_count == 0), "ok() iff no error counted");
    check(r.errors.size() == std::min(r.error_count, o.max_reported),
          "the first max_reported errors are kept");
    check(std::is_sorted(r.errors.begin(), r.errors.end(),
                         [](const auto& a, const auto& b) { return a.line < b.line; }),
          "errors sorted by line");
    for (const utxo::UtxoLineError& e : r.errors) {
        check(e.line >= 1, "a text error names a line");
        check(!e.message.empty(), "an error says what is wrong");
    }
    const std::string described = r.describe("fuzz");
    check(described.empty() == r.ok(), "describe() is empty iff ok()");
    if (!r.ok()) {
        check(described.find("fuzz") != std::string::npos, "describe() names the source");
        check(r.utxos.empty(), "a refused file yields no UTXOs");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const utxo::UtxoFileOptions options;
    const utxo::UtxoFileResult r = utxo::parse_utxo_text(text, options);
    check_result(r, options);

    utxo::UtxoFileOptions keep_none = options;
    keep_none.max_reported = 0;
    const utxo::UtxoFileResult counted = utxo::parse_utxo_text(text, keep_none);
    check_result(counted, keep_none);
    check(counted.error_count == r.error_count, "the error count does not depend on max_reported");

    if (!r.ok()) return 0;
    std::set<std::tuple<chain::Hash256, std::uint32_t>> seen;
    std::string again;
    for (const chain::Utxo& u : r.utxos) {
        check(u.value >= options.min_value && u.value <= k_max_money, "value in range");
        check(seen.emplace(u.outpoint.txid, u.outpoint.vout).second, "outpoints are distinct");
        again += utxo::format_utxo_line(u);
        again += '\n';
    }
    const utxo::UtxoFileResult back = utxo::parse_utxo_text(again, options);
    check(back.ok(), "the accepted UTXOs, written back, parse");
    check(back.utxos.size() == r.utxos.size(), "written back: same count");
    for (std::size_t i = 0; i < r.utxos.size(); ++i) {
        check(back.utxos[i].outpoint == r.utxos[i].outpoint &&
                  back.utxos[i].value == r.utxos[i].value,
              "written back: same UTXOs in the same order");
    }
    return 0;
}
