#include "service/engine/legacy.h"

#include "service/http/arc_calls.h"
#include "stages/send/arc_answer.h"
#include "storage/jobs/job_store.h"

namespace raregen::service {

using Json = nlohmann::ordered_json;
using http::arc_call;
using http::http_ok;
using http::http_problem;
using http::HttpResponse;

std::string take_over_legacy(pg::Connection& db, const std::string& me, bool adopt,
                             const std::optional<send::ArcSettings>& arc, Json& report,
                             const std::function<void(std::string_view)>& log) {
    jobs::LegacyScan scan;
    if (!adopt) {
        if (pg::Status st = jobs::count_legacy(db, scan); !st.ok())
            return "reading the old service's unfinished jobs failed: " + st.message();
        if (scan.processing_batch == 0 && scan.sending.empty()) return {};
        log("warning: " + std::to_string(scan.processing_batch) + " jobs in processing_batch and " +
            std::to_string(scan.sending.size()) +
            " in sending belong to no raregen engine: the old RareGen service's. They are left "
            "to it. If it is stopped for good, run once with --adopt-legacy to publish them "
            "(README: switching over).");
        report["left_to_old_service"]["processing_batch"] = scan.processing_batch;
        report["left_to_old_service"]["sending"] = scan.sending.size();
        return {};
    }
    if (pg::Status st = jobs::requeue_legacy(db, me, scan); !st.ok())
        return "taking over the old service's batches failed: " + st.message();
    report["requeued_from_processing_batch"] = scan.requeued;
    std::uint64_t marked_sent = 0;
    Json unresolved = Json::array();
    for (const jobs::LegacyJob& j : scan.sending) {
        std::string why;
        if (j.txid.empty()) {
            why = "sending without a txid: it may be on chain under a txid nobody recorded";
        } else if (!arc) {
            why = "sending with a txid, and no ARC to look it up (give --arc-url)";
        } else {
            const HttpResponse r =
                arc_call(arc->url + "/v1/tx/" + j.txid, arc->api_key, {}, {}, 15'000);
            std::string status;
            if (http_ok(r)) {
                try {
                    status = Json::parse(r.body).value("txStatus", std::string());
                } catch (const std::exception&) {
                }
            }
            if (!status.empty() && send::arc_status_accepted(status)) {
                bool marked = false;
                if (pg::Status st = jobs::mark_legacy_sent(db, me, j, status, marked); !st.ok())
                    return "marking an old sending job sent failed: " + st.message();
                if (marked) {
                    ++marked_sent;
                    continue;
                }
                why = "changed while it was looked up";
            } else if (r.completed && r.status == 404) {
                why = "sending with a txid ARC does not know, and no stored transaction to resend";
            } else {
                why = "ARC gave no definite answer for its txid (" + http_problem(r) +
                      "): run again to look it up";
            }
        }
        Json u;
        u["job_id"] = j.job_id;
        u["record_id"] = j.record_id;
        if (!j.txid.empty()) u["txid"] = j.txid;
        if (!j.sending_started_at.empty()) u["sending_started_at"] = j.sending_started_at;
        u["why"] = why;
        unresolved.push_back(std::move(u));
    }
    report["sending_found_at_arc"] = marked_sent;
    report["unresolved"] = unresolved;
    log("took over the old service's work: " + std::to_string(scan.requeued) +
        " jobs queued again from processing_batch, " + std::to_string(marked_sent) +
        " sending jobs found at ARC (sent), " + std::to_string(unresolved.size()) +
        " left for you to decide (see \"legacy\" in the summary; README: switching over)");
    return {};
}

}  // namespace raregen::service
