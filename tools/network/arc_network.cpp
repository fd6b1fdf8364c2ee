#include "tools/network/arc_network.h"

#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "engine/chain/bytes.h"
#include "engine/chain/hash.h"
#include "engine/chain/keys.h"
#include "engine/chain/script.h"
#include "engine/chain/secrets.h"
#include "engine/chain/sighash.h"
#include "engine/chain/tx.h"
#include "engine/chain/verify.h"
#include "stages/send/arc_status.h"
#include "tools/network/callbacks.h"
#include "tools/network/network_detail.h"
#include "tools/network/tx_scan.h"

namespace raregen::network {

namespace {

using namespace detail;

}  // namespace

std::string validate_options(const NetworkOptions& o) {
    if (o.port < 0 || o.port > 65535) return "--listen: port must be 0..65535";
    if (o.fee_rate.bytes == 0) return "--fee: bytes must be at least 1";
    const auto share_ok = [](double s) { return s >= 0.0 && s <= 1.0; };
    const FaultOptions& f = o.faults;
    if (f.latency_min_ms > f.latency_max_ms) return "--latency-ms: MIN must not exceed MAX";
    double total = f.timeout_share + f.drop_share;
    for (const auto& [status, share] : f.fail) {
        if (status < 400 || status > 599) return "--fail: statuses must be 400..599";
        if (!share_ok(share)) return "--fail: shares must be between 0 and 1";
        total += share;
    }
    if (!share_ok(f.timeout_share)) return "--timeout-share must be between 0 and 1";
    if (!share_ok(f.drop_share)) return "--drop-share must be between 0 and 1";
    if (!share_ok(f.reject_share)) return "--reject-share must be between 0 and 1";
    if (total > 1.0 + 1e-9) return "--fail, --timeout-share and --drop-share add up to more than 1";
    if (o.callback_attempts == 0) return "callback attempts must be at least 1";
    return {};
}

struct ArcNetwork::Impl {
    explicit Impl(NetworkOptions o)
        : options(std::move(o)),
          callbacks(CallbackOptions{options.callback_attempts, options.callback_backoff_ms,
                                    options.callback_timeout_ms, 100'000}),
          rng(options.faults.seed),
          reject_rng(options.faults.seed ^ 0x72656a656374ULL) {
        fee_rate = options.fee_rate;
        height = options.start_height;
        for (const int code : k_rejection_codes)
            rejected.try_emplace(code);
        for (const auto& f : options.faults.fail)
            fault_errors.try_emplace(f.first);
    }

    const NetworkOptions options;
    std::string api_key;  // never logged or echoed
    std::unique_ptr<httplib::Server> server;
    std::thread listen_thread;
    std::thread miner_thread;
    std::atomic<bool> listen_done{false};
    std::atomic<int> bound_port{0};
    CallbackSender callbacks;

    // Wakes injected sleeps and the block timer at stop().
    std::mutex stop_mutex;
    std::condition_variable stop_cv;
    bool stopping = false;  // guarded by stop_mutex

    // Fault draws.
    std::mutex rng_mutex;
    std::mt19937_64 rng;  // guarded by rng_mutex
    // Rejections draw from their own stream: the transactions they judge
    // come in a fixed order (e.g. one replenisher's splits), so for one seed
    // the same ones are refused whatever the other faults drew.
    std::mt19937_64 reject_rng;  // guarded by rng_mutex

    // The network's state, all behind one mutex (lock order: state, then rng).
    struct SpentOutput {
        TxOut out;
        Hash256 spender{};
    };
    mutable std::mutex mutex;
    std::unordered_map<Hash256, TxRecord, HashKey> txs;
    std::vector<Hash256> accepted_order;  // non-funding, in acceptance order
    std::vector<Hash256> mempool;         // SEEN_ON_NETWORK, awaiting a block
    std::unordered_map<OutPoint, TxOut, OutPointKey> utxos;
    std::unordered_map<OutPoint, SpentOutput, OutPointKey> spent;
    chain::FeeRate fee_rate;
    std::uint64_t height = 0;
    std::uint64_t fund_counter = 0;

    // Counters (atomic; the maps' keys are fixed at construction).
    Counter requests, unauthorized, tx_requests, txs_received, txs_accepted, txs_resubmitted,
        double_spends, injected_rejects, fault_latency, fault_timeouts, fault_drops, blocks, funded;
    std::map<int, Counter> rejected;
    std::map<int, Counter> fault_errors;

    // ---- helpers ----

    // find(), never operator[]: the maps must not change after construction.
    void count_rejection(int code, std::uint64_t n = 1) {
        if (auto it = rejected.find(code); it != rejected.end()) it->second.add(n);
    }

    // Sleeps up to `ms`; returns early when the network stops.
    void interruptible_sleep(std::uint32_t ms) {
        std::unique_lock lock(stop_mutex);
        stop_cv.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping; });
    }

    double draw_reject() {
        std::lock_guard lock(rng_mutex);
        return std::uniform_real_distribution<double>(0.0, 1.0)(reject_rng);
    }

    static std::string block_hash(std::uint64_t h) {
        Bytes seed = {'r', 'a', 'r', 'e', 'g', 'e', 'n', '-', 'b', 'l', 'o', 'c', 'k'};
        chain::Writer(seed).u64le(h);
        return chain::hash_to_display(chain::sha256d(seed));
    }

    bool authorized(const httplib::Request& req) const {
        if (api_key.empty()) return true;
        return chain::bearer_matches(req.get_header_value("Authorization"), api_key);
    }

    Json policy_json() {
        chain::FeeRate rate;
        {
            std::lock_guard lock(mutex);
            rate = fee_rate;
        }
        Json j;
        j["timestamp"] = now_iso();
        Json p;
        p["maxscriptsizepolicy"] = k_max_script_size;
        p["maxtxsigopscountspolicy"] = 4294967295ULL;
        p["maxtxsizepolicy"] = k_max_tx_size;
        p["miningFee"] = {{"satoshis", rate.satoshis}, {"bytes", rate.bytes}};
        j["policy"] = p;
        return j;
    }

    // ---- POST /v1/tx(s) ----

    struct Submit {
        std::string wait_for;
        std::string callback_url;
        std::string callback_token;
        bool callback_batch = false;
        bool full_status = false;
    };

    // Validates and applies the request's transactions; returns the HTTP
    // status and body ARC would answer.
    std::pair<int, Json> submit(const httplib::Request& req, bool many) {
        Submit s;
        s.wait_for = std::string(trim(req.get_header_value("X-WaitFor")));
        s.callback_url = std::string(trim(req.get_header_value("X-CallbackUrl")));
        s.callback_token = std::string(trim(req.get_header_value("X-CallbackToken")));
        s.callback_batch = header_true(req, "X-CallbackBatch");
        s.full_status = header_true(req, "X-FullStatusUpdates");
        if (!s.wait_for.empty() && !send::arc_wait_for_status(s.wait_for)) {
            count_rejection(400);
            return {400, error_object(400, "invalid X-WaitFor '" + s.wait_for + "'", "")};
        }
        if (!s.callback_url.empty() && s.callback_url.rfind("http://", 0) != 0 &&
            s.callback_url.rfind("https://", 0) != 0) {
            count_rejection(400);
            return {400, error_object(400, "X-CallbackUrl must be an http:// or https:// URL", "")};
        }

        Body body = decode_body(req, many);
        if (body.error != 0) {
            count_rejection(body.error);
            return {body.error, error_object(body.error, body.detail, "")};
        }
        txs_received.add(body.txs.size());

        // Phase 1, no lock: parse, txid, structure.
        std::vector<Candidate> cands(body.txs.size());
        for (std::size_t i = 0; i < body.txs.size(); ++i) {
            Candidate& c = cands[i];
            const chain::ParseResult pr = chain::parse_transaction(body.txs[i], c.tx);
            if (!pr.ok()) {
                // ARC cannot read the body as transactions: a bad request as
                // a whole (400), naming none.
                count_rejection(400, body.txs.size());
                const std::string where =
                    many ? "transaction " + std::to_string(i) + " is " : "the transaction is ";
                return {400, error_object(400,
                                          where + "malformed: " +
                                              std::string(chain::parse_error_message(pr.code)) +
                                              " at byte " + std::to_string(pr.offset),
                                          "")};
            }
            c.txid = chain::compute_txid(c.tx);
            c.txid_hex = chain::hash_to_display(c.txid);
            c.size = chain::standard_size(c.tx);
            check_structure(c);
        }
        // Outputs of earlier transactions in this request, so a request may
        // carry a chain (the parent is committed before the child is checked).
        std::unordered_map<OutPoint, const TxOut*, OutPointKey> batch_outputs;
        for (const Candidate& c : cands) {
            if (c.error != 0) continue;
            for (std::size_t v = 0; v < c.tx.outputs.size(); ++v)
                batch_outputs.emplace(OutPoint{c.txid, static_cast<std::uint32_t>(v)},
                                      &c.tx.outputs[v]);
        }

        // Phase 2, locked: fill in the previous outputs of raw inputs (460)
        // and check EF's against the network's (462).
        std::vector<bool> known(cands.size(), false);
        chain::FeeRate rate;
        {
            std::lock_guard lock(mutex);
            rate = fee_rate;
            for (std::size_t k = 0; k < cands.size(); ++k) {
                Candidate& c = cands[k];
                if (c.error != 0) continue;
                if (txs.count(c.txid) != 0) {
                    known[k] = true;
                    continue;
                }
                resolve_inputs(c, batch_outputs);
            }
        }

        // Phase 3, no lock: signatures, outputs, fee (the expensive part).
        for (std::size_t k = 0; k < cands.size(); ++k) {
            if (cands[k].error == 0 && !known[k]) check_scripts_and_amounts(cands[k], rate);
        }

        // Phase 4, locked: double spends and commit, in request order.
        std::vector<TxRecord> seen_callbacks;
        {
            std::lock_guard lock(mutex);
            for (Candidate& c : cands) {
                if (c.error == 0) commit(c, s, seen_callbacks);
            }
        }
        if (!seen_callbacks.empty()) queue_callbacks(callbacks, seen_callbacks);

        for (Candidate& c : cands) {
            if (c.error != 0) {
                count_rejection(c.error);
                c.answer = error_object(c.error, c.detail, c.txid_hex);
            }
        }
        if (!many) {
            const Candidate& c = cands.front();
            return {c.error != 0 ? c.error : 200, c.answer};
        }
        // ARC's order: successes first, failures after.
        Json list = Json::array();
        for (Candidate& c : cands)
            if (c.error == 0) list.push_back(std::move(c.answer));
        for (Candidate& c : cands)
            if (c.error != 0) list.push_back(std::move(c.answer));
        return {200, list};
    }

    // Caller holds `mutex`.
    const TxOut* find_output(const OutPoint& o,
                             const std::unordered_map<OutPoint, const TxOut*, OutPointKey>& batch) {
        if (auto it = utxos.find(o); it != utxos.end()) return &it->second;
        if (auto it = spent.find(o); it != spent.end()) return &it->second.out;
        if (auto it = batch.find(o); it != batch.end()) return it->second;
        return nullptr;
    }

    // Caller holds `mutex`.
    void resolve_inputs(Candidate& c,
                        const std::unordered_map<OutPoint, const TxOut*, OutPointKey>& batch) {
        for (std::size_t i = 0; i < c.tx.inputs.size(); ++i) {
            chain::TxIn& in = c.tx.inputs[i];
            if (in.prev) continue;
            if (const TxOut* known_out = find_output(in.prevout, batch)) {
                in.prev = *known_out;
            } else {
                c.error = 460;
                c.detail = "input " + std::to_string(i) + " spends " + describe(in.prevout) +
                           ", which this network does not know: send the transaction in "
                           "Extended Format (BRC-30)";
                return;
            }
        }
        for (std::size_t i = 0; i < c.tx.inputs.size(); ++i) {
            const chain::TxIn& in = c.tx.inputs[i];
            const TxOut* known_out = find_output(in.prevout, batch);
            if (known_out == nullptr) {
                c.error = 462;
                c.detail = "input " + std::to_string(i) + " spends " + describe(in.prevout) +
                           ", which does not exist";
                return;
            }
            if (known_out->value != in.prev->value || known_out->script != in.prev->script) {
                c.error = 462;
                c.detail = "input " + std::to_string(i) +
                           ": the previous output given in EF does not match " +
                           describe(in.prevout) + " (value or script differs)";
                return;
            }
        }
    }

    // Caller holds `mutex`. Decides the final answer of a valid candidate.
    void commit(Candidate& c, const Submit& s, std::vector<TxRecord>& seen_callbacks) {
        if (auto it = txs.find(c.txid); it != txs.end()) {
            txs_resubmitted.add();
            c.answer = stored_answer(it->second);
            return;
        }
        std::vector<std::string> competing;
        for (std::size_t i = 0; i < c.tx.inputs.size(); ++i) {
            const OutPoint& o = c.tx.inputs[i].prevout;
            if (utxos.count(o) != 0) continue;
            if (auto it = spent.find(o); it != spent.end()) {
                std::string other = chain::hash_to_display(it->second.spender);
                if (std::find(competing.begin(), competing.end(), other) == competing.end())
                    competing.push_back(std::move(other));
                continue;
            }
            c.error = 462;
            c.detail = "input " + std::to_string(i) + " spends " + describe(o) +
                       ", which is not in the UTXO set";
            return;
        }
        TxRecord shown;
        shown.txid = c.txid_hex;
        shown.timestamp = now_iso();
        if (!competing.empty()) {
            double_spends.add();
            TxRecord loser = std::move(shown);
            loser.status = TxStatus::double_spend_attempted;
            loser.competing = std::move(competing);
            loser.extra_info = "input already spent by a competing transaction";
            loser.raw = chain::serialize(c.tx);
            c.answer = stored_answer(loser);
            txs.emplace(c.txid, std::move(loser));
            return;
        }
        if (options.faults.reject_share > 0 &&
            c.tx.outputs.size() >= options.faults.reject_min_outputs &&
            draw_reject() < options.faults.reject_share) {
            injected_rejects.add();
            c.answer = status_object(shown, TxStatus::rejected,
                                     "injected fault: transaction rejected by the network", {});
            return;
        }
        for (const chain::TxIn& in : c.tx.inputs) {
            auto it = utxos.find(in.prevout);
            spent.emplace(in.prevout, SpentOutput{std::move(it->second), c.txid});
            utxos.erase(it);
        }
        for (std::size_t v = 0; v < c.tx.outputs.size(); ++v)
            utxos.emplace(OutPoint{c.txid, static_cast<std::uint32_t>(v)}, c.tx.outputs[v]);
        TxRecord r = std::move(shown);
        r.accepted_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
        r.status = TxStatus::seen_on_network;
        r.raw = chain::serialize(c.tx);
        r.callback_url = s.callback_url;
        r.callback_token = s.callback_token;
        r.callback_batch = s.callback_batch;
        r.full_status = s.full_status;
        TxStatus answer_status = TxStatus::seen_on_network;
        if (s.wait_for == "QUEUED") answer_status = TxStatus::queued;
        if (s.wait_for == "RECEIVED") answer_status = TxStatus::received;
        if (s.wait_for == "STORED") answer_status = TxStatus::stored;
        c.answer = status_object(r, answer_status, "", {});
        if (!r.callback_url.empty() && r.full_status) seen_callbacks.push_back(r);
        accepted_order.push_back(c.txid);
        mempool.push_back(c.txid);
        txs.emplace(c.txid, std::move(r));
        c.accepted = true;
        txs_accepted.add();
    }

    std::pair<std::uint64_t, std::size_t> mine() {
        std::vector<TxRecord> mined_callbacks;
        std::uint64_t h = 0;
        std::size_t n = 0;
        {
            std::lock_guard lock(mutex);
            h = ++height;
            const std::string hash = block_hash(h);
            const std::string ts = now_iso();
            n = mempool.size();
            for (const Hash256& id : mempool) {
                TxRecord& r = txs.at(id);
                r.status = TxStatus::mined;
                r.block_height = h;
                r.block_hash = hash;
                r.timestamp = ts;
                if (!r.callback_url.empty()) {
                    TxRecord copy;  // without raw bytes: callbacks do not need them
                    copy.txid = r.txid;
                    copy.status = r.status;
                    copy.block_height = h;
                    copy.block_hash = hash;
                    copy.timestamp = ts;
                    copy.callback_url = r.callback_url;
                    copy.callback_token = r.callback_token;
                    copy.callback_batch = r.callback_batch;
                    mined_callbacks.push_back(std::move(copy));
                }
            }
            mempool.clear();
        }
        blocks.add();
        if (!mined_callbacks.empty()) queue_callbacks(callbacks, mined_callbacks);
        return {h, n};
    }

    // ---- admin ----

    std::pair<int, Json> fund(const std::string& body) {
        thread_local simdjson::dom::parser parser;
        simdjson::dom::element doc;
        simdjson::dom::object obj;
        if (parser.parse(body).get(doc) != simdjson::SUCCESS ||
            doc.get_object().get(obj) != simdjson::SUCCESS) {
            return {400, error_object(400,
                                      "body must be {\"address\": ADDR or \"script\": HEX, "
                                      "\"satoshis\": N, \"outputs\": K}",
                                      "")};
        }
        Bytes script;
        std::string_view text;
        if (obj["address"].get_string().get(text) == simdjson::SUCCESS) {
            const auto addr = chain::decode_p2pkh_address(text);
            if (!addr)
                return {400, error_object(400, "address is not a base58check P2PKH address", "")};
            const chain::P2pkhScript lock = chain::p2pkh_locking_script(addr->hash);
            script.assign(lock.begin(), lock.end());
        } else if (obj["script"].get_string().get(text) == simdjson::SUCCESS) {
            auto bytes = chain::from_hex(text);
            if (!bytes || bytes->empty())
                return {400, error_object(400, "script must be non-empty hex", "")};
            script = std::move(*bytes);
        } else {
            return {400, error_object(400, "give \"address\" (P2PKH) or \"script\" (hex)", "")};
        }
        std::uint64_t sats = 0;
        if (obj["satoshis"].get_uint64().get(sats) != simdjson::SUCCESS || sats < 1 ||
            sats > static_cast<std::uint64_t>(k_max_money)) {
            return {400, error_object(400, "satoshis must be a whole number from 1 to 21e14", "")};
        }
        std::uint64_t count = 1;
        auto outputs_field = obj["outputs"];
        if (outputs_field.error() != simdjson::NO_SUCH_FIELD &&
            (outputs_field.get_uint64().get(count) != simdjson::SUCCESS || count < 1 ||
             count > k_max_fund_outputs ||
             sats * count > static_cast<std::uint64_t>(k_max_money))) {
            return {400, error_object(400,
                                      "outputs must be a whole number from 1 to " +
                                          std::to_string(k_max_fund_outputs) +
                                          " (and outputs * satoshis at most 21e14)",
                                      "")};
        }

        Transaction tx;
        chain::TxIn in;
        in.prevout.vout = 0xffffffff;  // null prevout: a coinbase-like funding input
        for (std::size_t i = 0; i < count; ++i)
            tx.outputs.push_back(TxOut{static_cast<std::int64_t>(sats), script});
        TxRecord r;
        Json outs = Json::array();
        {
            std::lock_guard lock(mutex);
            // A counter in the unlocking script makes every funding txid unique.
            Bytes counter;
            chain::Writer w(counter);
            w.u64le(++fund_counter);
            Bytes sig;
            chain::Writer ws(sig);
            chain::write_push(ws, counter);
            in.script_sig = std::move(sig);
            tx.inputs.push_back(std::move(in));
            const Hash256 id = chain::compute_txid(tx);
            r.txid = chain::hash_to_display(id);
            r.status = TxStatus::mined;
            r.block_height = height;
            r.block_hash = block_hash(height);
            r.raw = chain::serialize(tx);
            r.funding = true;
            r.timestamp = now_iso();
            for (std::size_t v = 0; v < tx.outputs.size(); ++v)
                utxos.emplace(OutPoint{id, static_cast<std::uint32_t>(v)}, tx.outputs[v]);
            txs.emplace(id, r);
        }
        funded.add();
        const std::string script_hex = chain::to_hex(script);
        for (std::size_t v = 0; v < count; ++v)
            outs.push_back({{"vout", v}, {"satoshis", sats}, {"script", script_hex}});
        Json j;
        j["txid"] = r.txid;
        j["rawTx"] = chain::to_hex(r.raw);
        j["outputs"] = std::move(outs);
        return {200, j};
    }

    std::pair<int, Json> set_policy(const std::string& body) {
        thread_local simdjson::dom::parser parser;
        simdjson::dom::element doc;
        simdjson::dom::object obj;
        chain::FeeRate rate;
        if (parser.parse(body).get(doc) != simdjson::SUCCESS ||
            doc.get_object().get(obj) != simdjson::SUCCESS ||
            obj["satoshis"].get_uint64().get(rate.satoshis) != simdjson::SUCCESS ||
            obj["bytes"].get_uint64().get(rate.bytes) != simdjson::SUCCESS || rate.bytes == 0 ||
            rate.bytes >= (1ULL << 31) || rate.satoshis >= (1ULL << 31)) {
            return {400, error_object(400,
                                      "body must be {\"satoshis\": S, \"bytes\": B} with "
                                      "0 <= S < 2^31 and 0 < B < 2^31",
                                      "")};
        }
        {
            std::lock_guard lock(mutex);
            fee_rate = rate;
        }
        return {200, policy_json()};
    }

    Json admin_txs() {
        Json list = Json::array();
        std::lock_guard lock(mutex);
        for (const Hash256& id : accepted_order) {
            const TxRecord& r = txs.at(id);
            Json j;
            j["txid"] = r.txid;
            j["txStatus"] = status_name(r.status);
            j["blockHeight"] = r.block_height;
            j["acceptedMs"] = r.accepted_ms;
            j["rawTx"] = chain::to_hex(r.raw);
            list.push_back(std::move(j));
        }
        Json out;
        out["txs"] = std::move(list);
        return out;
    }

    Json stats_json() const {
        Json j;
        j["requests"] = requests.get();
        j["unauthorized"] = unauthorized.get();
        j["tx_requests"] = tx_requests.get();
        Json t;
        t["received"] = txs_received.get();
        t["accepted"] = txs_accepted.get();
        t["resubmitted"] = txs_resubmitted.get();
        t["double_spends"] = double_spends.get();
        Json by_code = Json::object();
        for (const auto& [code, n] : rejected)
            by_code[std::to_string(code)] = n.get();
        t["rejected"] = by_code;
        j["txs"] = t;
        Json f;
        f["latency"] = fault_latency.get();
        Json errs = Json::object();
        for (const auto& [code, n] : fault_errors)
            errs[std::to_string(code)] = n.get();
        f["errors"] = errs;
        f["timeouts"] = fault_timeouts.get();
        f["drops"] = fault_drops.get();
        f["rejects"] = injected_rejects.get();
        j["faults"] = f;
        j["callbacks"] = {{"delivered", callbacks.delivered()},
                          {"failed", callbacks.failed()},
                          {"attempts", callbacks.attempts()}};
        std::lock_guard lock(mutex);
        j["blocks"] = {{"mined", blocks.get()}, {"height", height}};
        j["utxos"] = utxos.size();
        j["mempool"] = mempool.size();
        j["funding_txs"] = funded.get();
        return j;
    }

    // ---- faults and routing ----

    enum class Fault : std::uint8_t { none, error, timeout, drop };
    struct FaultPlan {
        std::uint32_t latency_ms = 0;
        Fault kind = Fault::none;
        int status = 0;
        bool apply_first = false;
    };

    FaultPlan plan_faults() {
        const FaultOptions& f = options.faults;
        FaultPlan p;
        std::lock_guard lock(rng_mutex);
        if (f.latency_max_ms > 0) {
            p.latency_ms = std::uniform_int_distribution<std::uint32_t>(f.latency_min_ms,
                                                                        f.latency_max_ms)(rng);
        }
        const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        double edge = 0;
        for (const auto& [status, share] : f.fail) {
            edge += share;
            if (u < edge) {
                p.kind = Fault::error;
                p.status = status;
                return p;
            }
        }
        if (u < (edge += f.timeout_share)) {
            p.kind = Fault::timeout;
        } else if (u < (edge += f.drop_share)) {
            p.kind = Fault::drop;
        }
        if (p.kind != Fault::none)
            p.apply_first = std::uniform_real_distribution<double>(0.0, 1.0)(rng) < 0.5;
        return p;
    }

    void handle_submit(const httplib::Request& req, httplib::Response& res, bool many) {
        tx_requests.add();
        const FaultPlan plan = plan_faults();
        if (plan.latency_ms > 0) {
            fault_latency.add();
            interruptible_sleep(plan.latency_ms);
        }
        switch (plan.kind) {
            case Fault::error: {
                fault_errors.find(plan.status)->second.add();
                send_json(
                    res, plan.status,
                    error_object(
                        plan.status,
                        "injected fault: the network answered " + std::to_string(plan.status), ""));
                return;
            }
            case Fault::timeout: {
                fault_timeouts.add();
                if (plan.apply_first) {
                    auto [status, body] = submit(req, many);
                    interruptible_sleep(options.faults.timeout_ms);
                    send_json(res, status, body);
                } else {
                    interruptible_sleep(options.faults.timeout_ms);
                    send_json(res, 504,
                              error_object(504, "injected fault: timed out, nothing applied", ""));
                }
                return;
            }
            case Fault::drop: {
                fault_drops.add();
                if (plan.apply_first) submit(req, many);
                // cpp-httplib has no way to drop a connection; a provider that
                // fails after the headers (which promise 64 bytes) makes it close
                // the connection with the body incomplete, which a client sees
                // as a transfer error.
                res.status = 200;
                res.set_content_provider(
                    64, "application/json",
                    [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
                return;
            }
            case Fault::none:
                break;
        }
        auto [status, body] = submit(req, many);
        send_json(res, status, body);
    }

    void install_routes(httplib::Server& svr) {
        using httplib::Request;
        using httplib::Response;
        svr.set_pre_routing_handler([this](const Request& req, Response& res) {
            requests.add();
            if (authorized(req)) return httplib::Server::HandlerResponse::Unhandled;
            unauthorized.add();
            send_json(res, 401,
                      error_object(401,
                                   "missing or wrong 'Authorization: Bearer <key>' header: send "
                                   "the API key this network was started with",
                                   ""));
            return httplib::Server::HandlerResponse::Handled;
        });
        svr.set_error_handler(
            httplib::Server::HandlerWithResponse([](const Request& req, Response& res) {
                if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
                const std::string detail = res.status == 404 ? "no such endpoint: " + req.path
                                                             : std::string("request failed");
                send_json(res, res.status, error_object(res.status, detail, ""));
                return httplib::Server::HandlerResponse::Handled;
            }));
        svr.Get("/v1/policy",
                [this](const Request&, Response& res) { send_json(res, 200, policy_json()); });
        svr.Get("/v1/health", [](const Request&, Response& res) {
            send_json(res, 200,
                      Json{{"healthy", true}, {"version", k_version}, {"reason", nullptr}});
        });
        svr.Get(R"(/v1/tx/([^/]+))", [this](const Request& req, Response& res) {
            const std::string id = req.matches[1];
            const auto hash = chain::hash_from_display(id);
            if (hash) {
                std::lock_guard lock(mutex);
                if (auto it = txs.find(*hash); it != txs.end()) {
                    send_json(res, 200, stored_answer(it->second));
                    return;
                }
            }
            send_json(res, 404, error_object(404, "transaction " + id + " is not known", id));
        });
        svr.Post("/v1/tx",
                 [this](const Request& req, Response& res) { handle_submit(req, res, false); });
        svr.Post("/v1/txs",
                 [this](const Request& req, Response& res) { handle_submit(req, res, true); });
        svr.Post("/admin/fund", [this](const Request& req, Response& res) {
            auto [status, body] = fund(req.body);
            send_json(res, status, body);
        });
        svr.Post("/admin/policy", [this](const Request& req, Response& res) {
            auto [status, body] = set_policy(req.body);
            send_json(res, status, body);
        });
        svr.Post("/admin/mine", [this](const Request&, Response& res) {
            const auto [h, n] = mine();
            send_json(res, 200, Json{{"blockHeight", h}, {"mined", n}});
        });
        svr.Get("/admin/txs",
                [this](const Request&, Response& res) { send_json(res, 200, admin_txs()); });
        svr.Get("/admin/stats",
                [this](const Request&, Response& res) { send_json(res, 200, stats_json()); });
    }

    void run_miner() {
        std::unique_lock lock(stop_mutex);
        while (!stopping) {
            stop_cv.wait_for(lock, std::chrono::milliseconds(options.block_interval_ms),
                             [this] { return stopping; });
            if (stopping) break;
            lock.unlock();
            mine();
            lock.lock();
        }
    }
};

ArcNetwork::ArcNetwork(NetworkOptions options)
    : m_impl(std::make_unique<Impl>(std::move(options))) {}

ArcNetwork::~ArcNetwork() {
    stop();
}

int ArcNetwork::start() {
    Impl& s = *m_impl;
    if (s.server) throw std::logic_error("ArcNetwork::start called twice");
    if (const std::string why = validate_options(s.options); !why.empty())
        throw std::runtime_error(why);
    if (!s.options.api_key_file.empty()) {
        std::ifstream in(s.options.api_key_file);
        if (!in)
            throw std::runtime_error("cannot read the API key file " + s.options.api_key_file +
                                     ": check the path and its permissions");
        std::stringstream text;
        text << in.rdbuf();
        s.api_key = std::string(trim(text.str()));
        if (s.api_key.empty())
            throw std::runtime_error("the API key file " + s.options.api_key_file +
                                     " is empty: put the key on its first line");
    }
    s.server = std::make_unique<httplib::Server>();
    httplib::Server& svr = *s.server;
    // A kept-alive connection holds a worker while it idles (cpp-httplib), so
    // the default is sized for clients' connections, not for cores: an engine
    // keeps several requests in flight plus one for policy and status reads.
    const std::size_t threads = s.options.threads != 0
                                    ? s.options.threads
                                    : std::max(16u, 2 * std::thread::hardware_concurrency());
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    svr.set_payload_max_length(s.options.max_body_bytes);
    svr.set_keep_alive_timeout(static_cast<time_t>(s.options.keep_alive_timeout_s));
    // Answers go out in several writes: without this each kept-alive request
    // waits for the client's delayed ACK (Nagle).
    svr.set_tcp_nodelay(true);
    s.install_routes(svr);

    int port = -1;
    if (s.options.port == 0) {
        port = svr.bind_to_any_port(s.options.host);
    } else if (svr.bind_to_port(s.options.host, s.options.port)) {
        port = s.options.port;
    }
    if (port <= 0) {
        throw std::runtime_error("cannot listen on " + s.options.host + ":" +
                                 std::to_string(s.options.port) +
                                 ": the port is in use or the address is not local; choose "
                                 "another --listen address");
    }
    s.bound_port = port;
    s.callbacks.start();
    s.listen_thread = std::thread([&s] {
        s.server->listen_after_bind();
        s.listen_done = true;
    });
    // stop() is a no-op until the accept loop runs: wait for it, so that a
    // stop() right after start() cannot leave the listener running.
    while (!svr.is_running() && !s.listen_done)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (s.options.block_interval_ms > 0) s.miner_thread = std::thread([&s] { s.run_miner(); });
    return port;
}

void ArcNetwork::stop() {
    Impl& s = *m_impl;
    {
        std::lock_guard lock(s.stop_mutex);
        s.stopping = true;
    }
    s.stop_cv.notify_all();
    if (s.miner_thread.joinable()) s.miner_thread.join();
    if (s.server) s.server->stop();
    if (s.listen_thread.joinable()) s.listen_thread.join();
    s.callbacks.stop();
}

int ArcNetwork::port() const {
    return m_impl->bound_port.load();
}

std::string ArcNetwork::url() const {
    return "http://" + m_impl->options.host + ":" + std::to_string(port());
}

std::uint64_t ArcNetwork::mine_block() {
    return m_impl->mine().first;
}

void ArcNetwork::set_fee_rate(chain::FeeRate rate) {
    std::lock_guard lock(m_impl->mutex);
    m_impl->fee_rate = rate;
}

nlohmann::ordered_json ArcNetwork::stats() const {
    return m_impl->stats_json();
}

}  // namespace raregen::network
