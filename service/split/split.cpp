#include "service/split/split.h"

#include <algorithm>

#include "engine/chain/split.h"
#include "engine/chain/tx.h"
#include "service/http/arc_calls.h"

namespace raregen::service {

SplitOutcome split_funding(const chain::PublicationKey& key, const SplitPlan& plan,
                           const SplitSink& on_accepted, const SplitRecorder& on_signed) {
    SplitOutcome out;
    out.change = plan.funding;
    std::size_t left = plan.count;
    std::vector<chain::Utxo> outputs;
    while (left > 0) {
        const std::size_t k = std::min(left, plan.per_tx);
        const chain::SplitResult split =
            chain::build_split(key, out.change, k, plan.each, plan.rate);
        if (!split.ok()) {
            out.stop = SplitOutcome::Stop::bad_plan;
            out.error = split.error;
            return out;
        }
        chain::Bytes ef;
        chain::serialize(split.tx, chain::TxFormat::extended, ef);
        const std::string display = chain::hash_to_display(split.txid);
        if (on_signed) {
            SignedSplit s;
            s.txid_display = display;
            s.ef = &ef;
            s.funding = out.change;
            s.outputs = k;
            s.each = plan.each;
            s.change = split.change;
            s.fee = split.fee;
            if (std::string e = on_signed(s); !e.empty()) {
                out.stop = SplitOutcome::Stop::record_failed;
                out.error = "split transaction " + display + " was not sent: " + e;
                return out;
            }
        }
        http::BroadcastOptions bo;
        bo.attempts = plan.attempts;
        bo.timeout_ms = plan.timeout_ms;
        bo.abort = plan.abort;
        bo.abort_grace = plan.abort_grace;
        const http::Broadcast b = http::broadcast_until_known(
            plan.arc_url, plan.api_key, display, std::string(ef.begin(), ef.end()), bo);
        out.retries += static_cast<std::size_t>(std::max(b.posts - 1, 0));
        out.lookups += static_cast<std::size_t>(b.lookups);
        if (b.verdict != http::Broadcast::Verdict::accepted) {
            const bool unknown = b.verdict == http::Broadcast::Verdict::unknown;
            out.stop = unknown ? SplitOutcome::Stop::unknown : SplitOutcome::Stop::refused;
            // The split may be on the network: its input must not be used
            // again until that is known.
            if (unknown) out.change = chain::Utxo{};
            out.error =
                "ARC did not accept split transaction " + display + ": " + b.detail +
                (unknown ? " (no verdict after " + std::to_string(b.posts) +
                               " attempts: the split may be on the network; check GET /v1/tx/" +
                               display + " before using its input again)"
                         : std::string());
            return out;
        }
        ++out.transactions;
        out.txids.push_back(display);
        outputs.clear();
        for (std::size_t v = 0; v < k; ++v) {
            chain::Utxo u;
            u.outpoint = chain::OutPoint{split.txid, static_cast<std::uint32_t>(v)};
            u.value = plan.each;
            outputs.push_back(u);
        }
        left -= k;
        out.outputs += k;
        // The next split spends this one's change (or nothing is left).
        if (split.change == 0) {
            out.change = chain::Utxo{};
        } else {
            out.change.outpoint = chain::OutPoint{split.txid, static_cast<std::uint32_t>(k)};
            out.change.value = split.change;
        }
        if (std::string e = on_accepted(display, outputs); !e.empty()) {
            out.stop = SplitOutcome::Stop::sink_failed;
            out.error = "split transaction " + display + " is on the network but its " +
                        std::to_string(k) + " outputs were not recorded (" + e +
                        "): import them by hand (outpoints " + display + ":0.." +
                        std::to_string(k - 1) + ")";
            return out;
        }
        if (split.change == 0 && left > 0) {
            out.stop = SplitOutcome::Stop::funding_ran_out;
            out.error = "the funding ran out with " + std::to_string(left) +
                        " outputs still to make: fund the key with more";
            return out;
        }
    }
    return out;
}

}  // namespace raregen::service
