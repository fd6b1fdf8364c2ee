// libFuzzer target for the ARC answer reader (style.md: a fuzzer for every
// parser): arbitrary bytes as the JSON body of a POST /v1/txs answer, an
// error object, a GET /v1/tx answer or GET /v1/policy, read the way
// ArcClient reads them (stages/send/arc_answer.h).
//
// Beyond "no crash, no sanitizer report", each entry's classification is
// checked against what arc_answer.h promises; a failed check calls abort()
// so libFuzzer keeps the input as a crash:
// - sent: a txStatus, a non-zero status, no detail;
// - failed: a detail; without a txStatus, a 4xx status other than 465;
// - fee_too_low: no txStatus and status 465;
// - a txStatus always comes with a non-zero status;
// - details and error texts stay within TextLine's capacity;
// - an accepted policy fee has bytes > 0 and both values below 2^31.
//
// Run by ctest as fuzz.arc_answer (see CMakeLists.txt), or by hand:
//   raregen_send_fuzz CORPUS_DIR seeds/ -dict=arc_answer.dict -max_total_time=120
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "stages/send/arc_answer.h"

namespace {

using namespace raregen;
namespace dom = simdjson::dom;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "arc_answer_fuzz: check failed: %s\n", what);
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok) fail(what);
}

void check_entry(dom::object obj) {
    const send::ArcEntry e = send::classify_arc_entry(obj);
    check(e.detail.view().size() <= send::TextLine::k_capacity, "detail within capacity");
    check(e.tx_status == send::arc_string(obj, "txStatus"), "tx_status is the entry's txStatus");
    if (!e.tx_status.empty()) check(e.status != 0, "a txStatus comes with a status");
    switch (e.kind) {
        case send::ArcEntryKind::sent:
            check(!e.tx_status.empty(), "sent needs a txStatus");
            check(e.detail.view().empty(), "sent has no detail");
            break;
        case send::ArcEntryKind::failed:
            check(!e.detail.view().empty(), "failed says why");
            if (e.tx_status.empty())
                check(e.status >= 400 && e.status < 500 && e.status != 465,
                      "an error entry fails on a 4xx other than 465");
            else
                check(e.tx_status == "REJECTED" || e.tx_status == "DOUBLE_SPEND_ATTEMPTED",
                      "only REJECTED and DOUBLE_SPEND_ATTEMPTED fail a txStatus");
            break;
        case send::ArcEntryKind::fee_too_low:
            check(e.tx_status.empty() && e.status == 465, "fee_too_low is error 465");
            check(!e.detail.view().empty(), "fee_too_low says why");
            break;
        case send::ArcEntryKind::retry:
            check(!e.detail.view().empty(), "a retry says why");
            break;
    }
    (void)send::arc_string(obj, "txid");
    send::TextLine l;
    send::arc_error_detail(l, send::arc_int(obj, "status"), obj);
    send::arc_error_detail(l, -1, obj);
    check(l.view().size() <= send::TextLine::k_capacity, "error detail within capacity");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static dom::parser parser;  // reused, as the client reuses its own
    // Parsed in place, padded inside the string's size as ArcClient does.
    std::string body(reinterpret_cast<const char*>(data), size);
    body.resize(size + simdjson::SIMDJSON_PADDING, '\0');
    dom::element root;
    if (!send::parse_arc_json(parser, std::string_view(body.data(), size), root)) return 0;

    dom::array arr;
    dom::object obj;
    if (root.get_array().get(arr) == simdjson::SUCCESS) {
        for (dom::element e : arr)
            if (e.get_object().get(obj) == simdjson::SUCCESS) check_entry(obj);
    } else if (root.get_object().get(obj) == simdjson::SUCCESS) {
        check_entry(obj);
    }
    chain::FeeRate rate;
    if (send::arc_policy_fee(root, rate))
        check(rate.bytes > 0 && rate.bytes < (1u << 31) && rate.satoshis < (1u << 31),
              "an accepted policy fee is within bounds");
    return 0;
}
