// libFuzzer target for the concatenated-transaction scanner (style.md: a
// fuzzer for every parser): scan_transaction_size over arbitrary bytes, as
// ArcNetwork splits a binary POST /v1/txs body.
//
// Beyond "no crash, no sanitizer report", each input is checked against what
// tx_scan.h promises, using the chain parser as the reference; a failed check
// calls abort() so libFuzzer keeps the input as a crash:
// - trailing_bytes is never returned;
// - ok: 10 <= size <= input size, and exactly the first `size` bytes parse
//   as one transaction;
// - the whole input parses iff the scan says ok with size == input size;
// - a parser's trailing_bytes on the whole input means the scan found a
//   shorter transaction, and a scan failure means the parser fails too;
// - splitting the whole input the way ArcNetwork does ends, consuming
//   every byte or stopping at the first failure.
//
// Run by ctest as fuzz.tx_scan (see CMakeLists.txt), or by hand:
//   raregen_network_fuzz CORPUS_DIR seeds/ -dict=tx_scan.dict -max_total_time=120
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "engine/chain/bytes.h"
#include "engine/chain/tx.h"
#include "tools/network/tx_scan.h"

namespace {

using namespace raregen;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "tx_scan_fuzz: check failed: %s\n", what);
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok) fail(what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const chain::ByteSpan all(data, size);
    std::size_t n = 0;
    const chain::ParseErrorCode code = network::scan_transaction_size(all, n);
    check(code != chain::ParseErrorCode::trailing_bytes, "never trailing_bytes");

    chain::Transaction whole;
    const chain::ParseResult parsed = chain::parse_transaction(all, whole);
    if (code == chain::ParseErrorCode::ok) {
        check(n >= 10 && n <= size, "ok: 10 <= size <= input");
        chain::Transaction first;
        const chain::ParseResult p = chain::parse_transaction(all.first(n), first);
        check(p.ok(), "ok: the scanned span parses as one transaction");
        check(parsed.ok() == (n == size), "the whole input parses iff it is exactly one tx");
        if (!parsed.ok())
            check(parsed.code == chain::ParseErrorCode::trailing_bytes,
                  "a scanned tx followed by more bytes is a parser trailing_bytes");
    } else {
        check(!parsed.ok(), "a scan failure is a parse failure");
        check(parsed.code != chain::ParseErrorCode::trailing_bytes,
              "the parser found a whole tx where the scan found none");
    }

    // Split the whole body as ArcNetwork does: every step consumes > 0 bytes.
    std::size_t off = 0;
    while (off < size) {
        std::size_t step = 0;
        if (network::scan_transaction_size(all.subspan(off), step) != chain::ParseErrorCode::ok)
            break;
        check(step > 0 && step <= size - off, "a scanned tx lies inside what was left");
        off += step;
    }
    return 0;
}
