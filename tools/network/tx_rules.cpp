#include "tools/network/network_detail.h"

#include <unordered_set>

#include "engine/chain/script.h"
#include "engine/chain/sighash.h"
#include "engine/chain/verify.h"

namespace raregen::network::detail {

std::string describe(const OutPoint& o) {
    return chain::format_outpoint(o);
}

// Structure checks that need no state: sizes, counts, duplicate inputs.
void check_structure(Candidate& c) {
    if (c.tx.inputs.empty() || c.tx.outputs.empty()) {
        c.error = 463;
        c.detail = "a transaction needs at least one input and one output";
    } else if (c.size < k_min_tx_size) {
        c.error = 463;
        c.detail = "transaction is " + std::to_string(c.size) + " bytes; the minimum is " +
                   std::to_string(k_min_tx_size);
    } else if (c.size > k_max_tx_size) {
        c.error = 474;
        c.detail = "transaction is " + std::to_string(c.size) + " bytes; the policy maximum is " +
                   std::to_string(k_max_tx_size);
    } else {
        std::unordered_set<OutPoint, OutPointKey> seen;
        for (const chain::TxIn& in : c.tx.inputs) {
            if (!seen.insert(in.prevout).second) {
                c.error = 463;
                c.detail = "input " + describe(in.prevout) + " is spent twice in the transaction";
                return;
            }
        }
    }
}

// Signatures, outputs and fee: the lock-free part of validation.
void check_scripts_and_amounts(Candidate& c, const chain::FeeRate& fee_rate) {
    const chain::SighashCache cache = chain::SighashCache::compute(c.tx);
    std::int64_t total_in = 0;
    for (std::size_t i = 0; i < c.tx.inputs.size(); ++i) {
        const TxOut& prev = *c.tx.inputs[i].prev;
        const chain::InputVerifyError e = chain::verify_p2pkh_input(c.tx, cache, i, prev);
        if (e != chain::InputVerifyError::ok) {
            c.error = 461;
            c.detail =
                "input " + std::to_string(i) + ": " + std::string(chain::input_verify_message(e));
            return;
        }
        total_in += prev.value;  // each prev value is known-good (EF checked or UTXO set)
    }
    std::int64_t total_out = 0;
    for (std::size_t i = 0; i < c.tx.outputs.size(); ++i) {
        const TxOut& out = c.tx.outputs[i];
        const std::string which = "output " + std::to_string(i);
        if (out.value < 0 || out.value > k_max_money) {
            c.error = 464;
            c.detail = which + " has an impossible value " + std::to_string(out.value);
            return;
        }
        if (chain::classify_script(out.script) == chain::ScriptType::data) {
            if (out.value != 0) {
                c.error = 464;
                c.detail = which + " is an OP_FALSE OP_RETURN data output carrying " +
                           std::to_string(out.value) + " satoshis; data outputs must carry 0";
                return;
            }
        } else if (out.value < 1) {
            c.error = 464;
            c.detail = which + " carries 0 satoshis; spendable outputs need at least 1";
            return;
        }
        if (out.script.size() > k_max_script_size) {
            c.error = 464;
            c.detail = which + " script is larger than the policy's " +
                       std::to_string(k_max_script_size) + " bytes";
            return;
        }
        total_out += out.value;
    }
    if (total_out > total_in) {
        c.error = 464;
        c.detail = "outputs total " + std::to_string(total_out) + " satoshis, more than the " +
                   std::to_string(total_in) + " the inputs hold";
        return;
    }
    const std::uint64_t paid = static_cast<std::uint64_t>(total_in - total_out);
    const std::uint64_t needed = fee_rate.fee_for(c.size);
    if (paid < needed) {
        c.error = 465;
        c.detail = "fee " + std::to_string(paid) + " satoshis is below the " +
                   std::to_string(needed) + " required for " + std::to_string(c.size) +
                   " bytes at " + fee_rate.to_string() + " sat/bytes; paid " +
                   std::to_string(paid) + ", needed " + std::to_string(needed);
    }
}

}  // namespace raregen::network::detail
