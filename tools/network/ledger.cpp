#include "tools/network/network_detail.h"

#include <map>
#include <utility>

namespace raregen::network::detail {

const char* status_name(TxStatus s) {
    switch (s) {
        case TxStatus::queued:
            return "QUEUED";
        case TxStatus::received:
            return "RECEIVED";
        case TxStatus::stored:
            return "STORED";
        case TxStatus::seen_on_network:
            return "SEEN_ON_NETWORK";
        case TxStatus::double_spend_attempted:
            return "DOUBLE_SPEND_ATTEMPTED";
        case TxStatus::rejected:
            return "REJECTED";
        case TxStatus::mined:
            return "MINED";
    }
    return "UNKNOWN";
}

Json status_object(const TxRecord& r, TxStatus shown, const std::string& extra,
                   const std::vector<std::string>& competing) {
    Json j;
    j["blockHash"] = r.block_hash;
    j["blockHeight"] = r.block_height;
    j["extraInfo"] = extra;
    j["status"] = 200;
    j["timestamp"] = r.timestamp;
    j["title"] = "OK";
    j["txStatus"] = status_name(shown);
    j["txid"] = r.txid;
    j["merklePath"] = "";
    j["competingTxs"] = competing.empty() ? Json(nullptr) : Json(competing);
    return j;
}

// A known transaction's answer to GET /v1/tx or a resubmission.
Json stored_answer(const TxRecord& r) {
    return status_object(r, r.status, r.extra_info, r.competing);
}

Json callback_entry(const TxRecord& r) {
    Json j;
    j["timestamp"] = r.timestamp;
    j["txid"] = r.txid;
    j["txStatus"] = status_name(r.status);
    j["extraInfo"] = "";
    j["competingTxs"] = nullptr;
    j["merklePath"] = "";
    j["blockHash"] = r.block_hash;
    j["blockHeight"] = r.block_height;
    return j;
}

// Callbacks for a set of records: one POST per record, except records whose
// submitter asked for X-CallbackBatch, grouped by (url, token).
void queue_callbacks(CallbackSender& sender, const std::vector<TxRecord>& records) {
    std::map<std::pair<std::string, std::string>, Json> batches;
    for (const TxRecord& r : records) {
        if (r.callback_batch) {
            batches[{r.callback_url, r.callback_token}].push_back(callback_entry(r));
        } else {
            sender.enqueue({r.callback_url, r.callback_token, dump(callback_entry(r))});
        }
    }
    for (auto& [key, list] : batches) {
        Json body;
        body["count"] = list.size();
        body["callbacks"] = std::move(list);
        sender.enqueue({key.first, key.second, dump(body)});
    }
}

}  // namespace raregen::network::detail
