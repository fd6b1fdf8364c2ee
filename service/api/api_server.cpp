#include "service/api/api_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/chain/bytes.h"
#include "service/engine/engine.h"
#include "stages/ingest/intake_queue.h"
#include "storage/pg/connection.h"
#include "storage/pg/secrets.h"

#ifndef RAREGEN_VERSION
#define RAREGEN_VERSION "0.0.0"
#endif

namespace raregen::api {

namespace {

// Connections the kernel holds for accept() (clients connecting at once).
constexpr int k_listen_backlog = 1024;

using ingest::IntakeAnswer;
using ingest::IntakeQueue;

// A few database connections for the read routes, connected on first use
// and again after a failure (the database restarting must not need a
// restart of the service).
class ReadPool {
  public:
    ReadPool(std::string conninfo, std::size_t n) : m_conninfo(std::move(conninfo)), m_slots(n) {
        for (std::size_t i = 0; i < n; ++i)
            m_free.push_back(i);
    }

    // Runs fn(connection) -> pg::Result on a pooled connection. Returns the
    // result, or nullopt with `error` set (scrubbed) when no connection
    // could be had.
    template <class Fn>
    std::optional<pg::Result> run(Fn&& fn, std::string& error) {
        std::size_t i = 0;
        {
            std::unique_lock lock(m_mu);
            m_cv.wait(lock, [&] { return !m_free.empty(); });
            i = m_free.back();
            m_free.pop_back();
        }
        std::optional<pg::Result> out;
        auto& slot = m_slots[i];
        if (!slot || !slot->ok()) {
            slot.reset();
            pg::Status st;
            pg::ConnectOptions co;
            co.connect_timeout_s = 3;
            co.application_name = "raregen api";
            slot = pg::Connection::try_connect(m_conninfo, st, co);
            if (slot && !slot->exec("SET TIME ZONE 'UTC'").ok()) slot.reset();
            if (!slot) error = st.message().empty() ? "the database is unreachable" : st.message();
        }
        if (slot) {
            out.emplace(fn(*slot));
            if (!out->ok()) {
                error = pg::scrub_secrets(out->error(), m_conninfo);
                if (!slot->ok()) slot.reset();
                out.reset();
            }
        }
        {
            std::lock_guard lock(m_mu);
            m_free.push_back(i);
        }
        m_cv.notify_one();
        return out;
    }

  private:
    std::string m_conninfo;
    std::mutex m_mu;
    std::condition_variable m_cv;
    std::vector<std::optional<pg::Connection>> m_slots;
    std::vector<std::size_t> m_free;
};

std::string hex_of(const chain::Hash256& h) {
    return chain::to_hex(chain::ByteSpan(h.data(), h.size()));
}

std::string media_type(const httplib::Request& req) {
    std::string t = req.get_header_value("Content-Type");
    if (const auto semi = t.find(';'); semi != std::string::npos) t.resize(semi);
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back())))
        t.pop_back();
    std::size_t lead = 0;
    while (lead < t.size() && std::isspace(static_cast<unsigned char>(t[lead])))
        ++lead;
    t.erase(0, lead);
    std::transform(t.begin(), t.end(), t.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return t;
}

Json text_or_null(const pg::Result& r, int row, int col) {
    if (r.is_null(row, col)) return nullptr;
    return std::string(r.text(row, col));
}

constexpr const char* k_iso = R"('YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')";

// One intent's way through the API: judged by the ingest stage, then (when
// accepted) settled once its fact is durable.
struct Outcome {
    int status = 0;
    Json body;
    int retry_after = 0;  // seconds, for 503
    // accepted, waiting for durability
    model::FactTicket ticket = 0;
    std::string record_id, hash, job_id;
    bool retry = false;  // the same record's earlier attempt: answered 200, not 202
};

}  // namespace

struct ApiServer::State {
    service::Engine& engine;
    IntakeQueue& queue;
    ApiOptions o;
    httplib::Server server;
    std::thread thread;
    int port = -1;
    bool running = false;
    ReadPool reads;

    // Requests waiting for durability, by the ticket they wait for: a flush
    // wakes only those it made durable (a notify_all would wake every
    // waiting worker, a thousand of them at 1,000 connections, on every
    // flush, and they would fight for the lock instead of answering).
    struct Waiter {
        std::condition_variable cv;
        bool done = false;
    };
    std::mutex durable_mu;
    std::multimap<model::FactTicket, Waiter*> waiters;

    // Blocks until the fact `ticket` is durable or `wait` runs out.
    bool wait_durable(model::FactTicket ticket, std::chrono::milliseconds wait) {
        const model::FactSink& facts = *engine.facts();
        if (facts.durable_through() >= ticket) return true;
        Waiter w;
        std::unique_lock lock(durable_mu);
        // Checked again under the lock: a flush that landed meanwhile has
        // already run wake_durable() and would not wake this waiter.
        if (facts.durable_through() >= ticket) return true;
        const auto it = waiters.emplace(ticket, &w);
        if (!w.cv.wait_for(lock, wait, [&] { return w.done; })) {
            waiters.erase(it);
            return facts.durable_through() >= ticket;
        }
        return true;
    }

    void wake_durable() {
        const model::FactTicket mark = engine.facts()->durable_through();
        std::lock_guard lock(durable_mu);
        for (auto it = waiters.begin(); it != waiters.end() && it->first <= mark;
             it = waiters.erase(it)) {
            it->second->done = true;
            it->second->cv.notify_one();
        }
    }

    // Accepted records whose fact is not known durable yet, by record hash:
    // a client's retry (nonce_replay, its row not written yet) is answered
    // with that job once durable, never refused.
    struct InFlight {
        model::FactTicket ticket = 0;
        std::string record_id, job_id;
    };
    std::mutex inflight_mu;
    std::unordered_map<std::string, InFlight> inflight;

    std::atomic<std::uint64_t> requests{0}, accepted{0}, existing{0}, rejected{0}, unavailable{0};

    State(service::Engine& e, IntakeQueue& q, ApiOptions opts)
        : engine(e),
          queue(q),
          o(std::move(opts)),
          reads(o.conninfo, std::max<std::size_t>(1, o.read_connections)) {}

    void log(std::string_view m) const {
        if (o.on_log) o.on_log(m);
    }

    static Outcome fail(int status, std::string_view code, std::string error, int retry = 0) {
        Outcome out;
        out.status = status;
        out.retry_after = retry;
        out.body = Json{{"ok", false}, {"error", std::move(error)}, {"code", code}};
        return out;
    }

    // The job already made from this record, if any.
    std::optional<Outcome> existing_job(const std::string& hash, std::string& error) {
        auto r = reads.run(
            [&](pg::Connection& c) {
                return c.exec_params(
                    "SELECT job_id, record_id, status FROM publish_jobs WHERE record_hash = $1 "
                    "ORDER BY created_at LIMIT 1",
                    hash);
            },
            error);
        if (!r || r->rows() == 0) return std::nullopt;
        Outcome out;
        out.status = 200;
        out.body = Json{{"ok", true},
                        {"recordId", std::string(r->text(0, 1))},
                        {"hash", hash},
                        {"jobId", std::string(r->text(0, 0))},
                        {"status", std::string(r->text(0, 2))},
                        {"existing", true}};
        return out;
    }

    Outcome unavailable_now() {
        if (engine.storage_healthy()) return {};
        return fail(503, "unavailable",
                    "the database is unavailable, so nothing can be accepted durably now: "
                    "retry later",
                    5);
    }

    // Phase 1: the ingest stage's verdict.
    Outcome judge(std::string_view body) {
        IntakeAnswer a;
        switch (queue.submit(body, a, o.durable_wait)) {
            case IntakeQueue::Submit::full:
                return fail(503, "capacity", "intake is full (backpressure): retry in a moment", 1);
            case IntakeQueue::Submit::timed_out:
                return fail(503, "capacity",
                            "intake is held up (the pipeline or the database is behind): retry "
                            "in a moment",
                            2);
            case IntakeQueue::Submit::closed:
                return fail(503, "shutting_down",
                            "the service is stopping and takes no new intents: retry against "
                            "the next instance",
                            5);
            case IntakeQueue::Submit::judged:
                break;
        }
        if (a.verdict == IntakeAnswer::Verdict::closed)
            return fail(503, "shutting_down", "the service is stopping: retry later", 5);
        if (a.verdict == IntakeAnswer::Verdict::rejected) {
            if (a.record_hash_known && (a.reason == ingest::RejectReason::nonce_replay ||
                                        a.reason == ingest::RejectReason::stale)) {
                const std::string hash = hex_of(a.record_hash);
                {
                    std::lock_guard lock(inflight_mu);
                    if (auto it = inflight.find(hash); it != inflight.end()) {
                        Outcome out;  // settled like the first attempt, answered 200
                        out.ticket = it->second.ticket;
                        out.record_id = it->second.record_id;
                        out.job_id = it->second.job_id;
                        out.hash = hash;
                        out.retry = true;
                        return out;
                    }
                }
                std::string error;
                if (auto e = existing_job(hash, error)) return std::move(*e);
                if (!error.empty())
                    return fail(503, "unavailable",
                                "cannot tell whether this record was already accepted (the "
                                "database is unavailable): retry later",
                                5);
            }
            // Not the client's fault: the nonce store is full (retry later),
            // or the intent is over the stage's own size limit.
            const int status = a.reason == ingest::RejectReason::capacity    ? 503
                               : a.reason == ingest::RejectReason::too_large ? 413
                                                                             : 400;
            Outcome out = fail(status, ingest::reject_reason_name(a.reason),
                               std::string(a.message.view()), status == 503 ? 60 : 0);
            out.body["field"] = a.field.empty() ? Json(nullptr) : Json(std::string(a.field.view()));
            if (a.record_id_known) out.body["recordId"] = std::string(a.record_id.view());
            return out;
        }
        Outcome out;
        out.ticket = a.ticket;
        out.record_id = std::string(a.record_id.view());
        out.hash = hex_of(a.record_hash);
        out.job_id = a.job_id.to_string();
        {
            std::lock_guard lock(inflight_mu);
            if (inflight.size() >= 4 * queue.capacity()) {
                // Forget what is durable by now (its row answers retries).
                const model::FactTicket durable = engine.facts()->durable_through();
                std::erase_if(inflight,
                              [&](const auto& kv) { return kv.second.ticket <= durable; });
            }
            inflight[out.hash] = InFlight{out.ticket, out.record_id, out.job_id};
        }
        return out;
    }

    void forget_inflight(const Outcome& out) {
        std::lock_guard lock(inflight_mu);
        if (auto it = inflight.find(out.hash);
            it != inflight.end() && it->second.ticket == out.ticket)
            inflight.erase(it);
    }

    // Phase 2: waits until every accepted outcome's fact is durable (or the
    // wait runs out), then answers each.
    void settle(std::vector<Outcome*>& outcomes) {
        model::FactTicket highest = 0;
        for (const Outcome* out : outcomes)
            if (out->status == 0) highest = std::max(highest, out->ticket);
        if (highest == 0) return;
        const model::FactSink& facts = *engine.facts();
        const bool durable = wait_durable(highest, o.durable_wait);
        for (Outcome* out : outcomes) {
            if (out->status != 0) continue;
            if (!durable && facts.durable_through() < out->ticket) {
                *out = fail(503, "not_durable",
                            "the intent was accepted but is not yet durable (the database is "
                            "slow or away): send the same intent again; once it is durable the "
                            "answer is its job",
                            2);
                continue;
            }
            forget_inflight(*out);
            if (facts.refused(out->ticket)) {
                // Another job already holds this record, or the database
                // refused the row itself (e.g. a value longer than its column).
                std::string error;
                if (auto e = existing_job(out->hash, error)) {
                    *out = std::move(*e);
                    continue;
                }
                if (!error.empty()) {
                    *out = fail(503, "unavailable",
                                "the database could not be read to tell what became of the "
                                "intent: retry later",
                                5);
                    continue;
                }
                *out = fail(400, "storage_refused",
                            "the database refused the record (a value longer than its column "
                            "allows, say): shorten it and sign it again");
                continue;
            }
            out->status = out->retry ? 200 : 202;
            out->body = Json{{"ok", true},
                             {"recordId", out->record_id},
                             {"hash", out->hash},
                             {"jobId", out->job_id},
                             {"status", "queued"}};
            if (out->retry) out->body["existing"] = true;
        }
    }

    void count(const Outcome& out) {
        switch (out.status) {
            case 202:
                accepted.fetch_add(1, std::memory_order_relaxed);
                break;
            case 200:
                existing.fetch_add(1, std::memory_order_relaxed);
                break;
            case 400:
                rejected.fetch_add(1, std::memory_order_relaxed);
                break;
            default:
                unavailable.fetch_add(1, std::memory_order_relaxed);
        }
    }

    static void reply(httplib::Response& res, int status, const Json& body, int retry_after = 0) {
        res.status = status;
        if (retry_after > 0) res.set_header("Retry-After", std::to_string(retry_after));
        res.set_content(body.dump(), "application/json; charset=utf-8");
    }

    void publish(const httplib::Request& req, httplib::Response& res) {
        requests.fetch_add(1, std::memory_order_relaxed);
        if (media_type(req) != "application/json") {
            rejected.fetch_add(1, std::memory_order_relaxed);
            const Outcome out = fail(415, "unsupported_media_type",
                                     "send the intent as JSON with Content-Type: "
                                     "application/json");
            reply(res, out.status, out.body);
            return;
        }
        if (req.body.size() > o.max_body) {
            rejected.fetch_add(1, std::memory_order_relaxed);
            const Outcome out =
                fail(413, "too_large",
                     "the intent is " + std::to_string(req.body.size()) + " bytes; the limit is " +
                         std::to_string(o.max_body) + " bytes: shrink the record");
            reply(res, out.status, out.body);
            return;
        }
        Outcome out = unavailable_now();
        if (out.status == 0) {
            out = judge(req.body);
            std::vector<Outcome*> one{&out};
            settle(one);
        }
        count(out);
        reply(res, out.status, out.body, out.retry_after);
    }

    void publish_batch(const httplib::Request& req, httplib::Response& res) {
        requests.fetch_add(1, std::memory_order_relaxed);
        const std::string type = media_type(req);
        std::vector<std::string_view> items;
        const std::string_view body(req.body);
        if (type == "application/json") {
            const SplitResult split = split_json_array(body, o.max_batch_items, items);
            if (split == SplitResult::too_many) {
                const Outcome out = fail(413, "too_large",
                                         "at most " + std::to_string(o.max_batch_items) +
                                             " intents per batch: split it");
                reply(res, out.status, out.body);
                return;
            }
            if (split != SplitResult::ok) {
                const Outcome out = fail(400, "bad_json",
                                         "the body must be a JSON array of intents (or NDJSON with "
                                         "Content-Type: application/x-ndjson)");
                reply(res, out.status, out.body);
                return;
            }
        } else if (type == "application/x-ndjson" || type == "application/ndjson" ||
                   type == "application/jsonl") {
            std::size_t pos = 0;
            while (pos < body.size()) {
                std::size_t nl = body.find('\n', pos);
                if (nl == std::string_view::npos) nl = body.size();
                std::string_view line = body.substr(pos, nl - pos);
                pos = nl + 1;
                if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
                items.push_back(line);
            }
        } else {
            const Outcome out = fail(415, "unsupported_media_type",
                                     "send a JSON array (application/json) or NDJSON "
                                     "(application/x-ndjson)");
            reply(res, out.status, out.body);
            return;
        }
        if (items.size() > o.max_batch_items) {
            const Outcome out = fail(
                413, "too_large",
                "at most " + std::to_string(o.max_batch_items) + " intents per batch: split it");
            reply(res, out.status, out.body);
            return;
        }
        if (Outcome down = unavailable_now(); down.status != 0) {
            count(down);
            reply(res, down.status, down.body, down.retry_after);
            return;
        }
        std::vector<Outcome> outcomes(items.size());
        std::vector<Outcome*> pointers;
        pointers.reserve(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (items[i].size() > o.max_body)
                outcomes[i] = fail(413, "too_large",
                                   "the intent is " + std::to_string(items[i].size()) +
                                       " bytes; the limit is " + std::to_string(o.max_body) +
                                       " bytes: shrink the record");
            else
                outcomes[i] = judge(items[i]);
            pointers.push_back(&outcomes[i]);
        }
        settle(pointers);
        Json results = Json::array();
        for (Outcome& out : outcomes) {
            count(out);
            out.body["httpStatus"] = out.status;
            results.push_back(std::move(out.body));
        }
        reply(res, 200,
              Json{{"ok", true}, {"count", items.size()}, {"results", std::move(results)}});
    }

    void job(const httplib::Request& req, httplib::Response& res) {
        requests.fetch_add(1, std::memory_order_relaxed);
        const std::string id = req.matches[1];
        std::string error;
        const std::string sql = std::string(
                                    "SELECT job_id, record_id, status, txid, error_code, "
                                    "error_detail, to_char(created_at, ") +
                                k_iso + "), to_char(sent_at, " + k_iso +
                                "), to_char(confirmed_at, " + k_iso +
                                ") FROM publish_jobs WHERE job_id = $1";
        auto r = reads.run([&](pg::Connection& c) { return c.exec_params(sql, id); }, error);
        if (!r) {
            reply(res, 503,
                  fail(503, "unavailable", "the database is unavailable: retry later").body, 5);
            return;
        }
        if (r->rows() == 0) {
            reply(res, 404, Json{{"ok", false}, {"error", "Job not found"}, {"code", "not_found"}});
            return;
        }
        reply(res, 200,
              Json{{"ok", true},
                   {"jobId", std::string(r->text(0, 0))},
                   {"recordId", std::string(r->text(0, 1))},
                   {"status", text_or_null(*r, 0, 2)},
                   {"txid", text_or_null(*r, 0, 3)},
                   {"errorCode", text_or_null(*r, 0, 4)},
                   {"errorDetail", text_or_null(*r, 0, 5)},
                   {"timestamps",
                    {{"createdAt", text_or_null(*r, 0, 6)},
                     {"sentAt", text_or_null(*r, 0, 7)},
                     {"confirmedAt", text_or_null(*r, 0, 8)}}}});
    }

    void record(const httplib::Request& req, httplib::Response& res) {
        requests.fetch_add(1, std::memory_order_relaxed);
        const std::string id = req.matches[1];
        std::string error;
        const std::string sql = std::string(
                                    "SELECT record_id, record_canonical, record_hash, status, "
                                    "txid, to_char(created_at, ") +
                                k_iso +
                                "), job_id FROM publish_jobs WHERE record_id = $1 ORDER BY "
                                "created_at DESC, intake_seq DESC NULLS LAST "
                                "LIMIT 1";
        auto r = reads.run([&](pg::Connection& c) { return c.exec_params(sql, id); }, error);
        if (!r) {
            reply(res, 503,
                  fail(503, "unavailable", "the database is unavailable: retry later").body, 5);
            return;
        }
        if (r->rows() == 0) {
            reply(res, 404,
                  Json{{"ok", false}, {"error", "Record not found"}, {"code", "not_found"}});
            return;
        }
        Json record = Json::parse(r->text(0, 1), nullptr, false);
        if (record.is_discarded()) record = std::string(r->text(0, 1));
        reply(res, 200,
              Json{{"ok", true},
                   {"recordId", std::string(r->text(0, 0))},
                   {"recordHash", text_or_null(*r, 0, 2)},
                   {"status", text_or_null(*r, 0, 3)},
                   {"txid", text_or_null(*r, 0, 4)},
                   {"createdAt", text_or_null(*r, 0, 5)},
                   {"jobId", std::string(r->text(0, 6))},
                   {"record", std::move(record)}});
    }

    void health(httplib::Response& res) {
        requests.fetch_add(1, std::memory_order_relaxed);
        std::string error;
        auto r = reads.run(
            [&](pg::Connection& c) {
                return c.exec(
                    "SELECT (SELECT count(*) FROM utxos WHERE purpose = 'publish' AND status = "
                    "'available' AND satoshis = 100 AND NOT coalesce(dirty, false)), "
                    "to_char(now(), " +
                    std::string(k_iso) + ")");
            },
            error);
        const service::Engine::StorageHealth wb = engine.storage_health();
        const service::EngineProgress p = engine.progress();
        Json network;
        const auto arc = engine.network_health();
        if (arc)
            network =
                Json{{"arc", true},
                     {"reachable", arc->reachable},
                     {"policyAgeSeconds",
                      arc->policy_age_ms < 0 ? Json(nullptr) : Json(arc->policy_age_ms / 1000)},
                     {"unansweredInARow", arc->unanswered_in_a_row},
                     {"feeRate", arc->fee_rate.to_string()}};
        else
            network = Json{{"arc", false}, {"sink", "file"}};
        const bool ok = r.has_value() && wb.healthy && !queue.closed() && (!arc || arc->reachable);
        // The replenisher short of funding, or failing, degrades the service
        // (it still publishes what the pool holds): said, not a 503.
        Json replenisher = nullptr;
        bool degraded = false;
        if (const auto h = engine.replenisher_health()) {
            degraded = !h->ok && h->state != "starting";
            replenisher = Json{
                {"state", h->state},
                {"ok", h->ok},
                {"fundingSatoshis", h->funding_satoshis},
                {"fundingOutputs", h->funding_outputs},
                {"spendPerSecond", h->spend_per_second},
                {"runwayMinutes", h->runway_minutes < 0 ? Json(nullptr) : Json(h->runway_minutes)},
                {"splits", h->splits},
                {"outputs", h->outputs},
                {"failures", h->failures}};
            if (!h->last_error.empty()) replenisher["lastError"] = h->last_error;
        }
        Json body{{"ok", ok},
                  {"status", !ok        ? "down"
                             : degraded ? "degraded"
                                        : "ok"},
                  {"database", r ? "connected" : "disconnected"},
                  {"writeBehind", {{"healthy", wb.healthy}, {"pending", wb.pending}}},
                  {"network", std::move(network)},
                  {"pool",
                   {{"available", r ? Json(r->int64(0, 0).value_or(0)) : Json(nullptr)},
                    {"inRing", p.utxos_in_ring}}},
                  {"intake", {{"open", !queue.closed()}, {"waiting", queue.waiting()}}},
                  {"replenisher", std::move(replenisher)},
                  {"timestamp", r ? Json(std::string(r->text(0, 1))) : Json(nullptr)}};
        if (!r) log("health: the database cannot be read: " + error);
        reply(res, ok ? 200 : 503, body);
    }

    void info(httplib::Response& res) {
        requests.fetch_add(1, std::memory_order_relaxed);
        reply(res, 200,
              Json{{"name", "raregen"},
                   {"version", RAREGEN_VERSION},
                   {"environment", o.environment},
                   {"features",
                    {{"signedPublishing", true},
                     {"utxoPooling", true},
                     {"batchPublishing", true},
                     {"ordinals", false}}},
                   {"settings", o.settings}});
    }
};

ApiServer::ApiServer(service::Engine& engine, ingest::IntakeQueue& queue, ApiOptions options)
    : m_state(std::make_unique<State>(engine, queue, std::move(options))) {}

ApiServer::~ApiServer() {
    stop();
}

std::string ApiServer::start() {
    State& s = *m_state;
    httplib::Server& svr = s.server;
    const std::size_t threads = std::max<std::size_t>(2, s.o.threads);
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    svr.set_keep_alive_max_count(1000000);
    // An answer goes out in more than one write (headers, then body): with
    // Nagle on, the second waits for the client's delayed ACK (~40 ms on
    // Linux) and every kept-alive request pays it.
    svr.set_tcp_nodelay(true);
    svr.set_payload_max_length(std::max(s.o.max_batch_body, s.o.max_body));
    svr.Post("/v1/publish",
             [&s](const httplib::Request& req, httplib::Response& res) { s.publish(req, res); });
    svr.Post("/v1/publish/batch", [&s](const httplib::Request& req, httplib::Response& res) {
        s.publish_batch(req, res);
    });
    svr.Get(R"(/v1/job/([^/]+))",
            [&s](const httplib::Request& req, httplib::Response& res) { s.job(req, res); });
    svr.Get(R"(/v1/record/([^/]+))",
            [&s](const httplib::Request& req, httplib::Response& res) { s.record(req, res); });
    svr.Get("/health", [&s](const httplib::Request&, httplib::Response& res) { s.health(res); });
    svr.Get("/info", [&s](const httplib::Request&, httplib::Response& res) { s.info(res); });
    svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return;
        const char* what = res.status == 404   ? "Not found"
                           : res.status == 413 ? "the body is over the size limit"
                                               : "the request could not be served";
        res.set_content(Json{{"ok", false}, {"error", what}}.dump(),
                        "application/json; charset=utf-8");
    });
    svr.set_exception_handler([&s](const httplib::Request&, httplib::Response& res,
                                   std::exception_ptr ep) {
        std::string what = "unknown";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        s.log("API: a request failed: " + what);
        res.status = 500;
        res.set_content(
            Json{{"ok", false}, {"error", "Internal server error"}, {"code", "internal"}}.dump(),
            "application/json; charset=utf-8");
    });
    // The listening socket, to widen its accept backlog below.
    int listen_fd = -1;
    svr.set_socket_options([&listen_fd](socket_t sock) {
        httplib::default_socket_options(sock);  // what the library does without a callback
        listen_fd = sock;
    });
    s.port = s.o.port == 0 ? svr.bind_to_any_port(s.o.host)
                           : (svr.bind_to_port(s.o.host, s.o.port) ? s.o.port : -1);
    if (s.port < 0)
        return "the API cannot listen on " + s.o.host + ":" + std::to_string(s.o.port) +
               " (in use, or not an address of this machine): set PORT or --listen";
    // Debian's compiled cpp-httplib listens with a backlog of 5: when many
    // clients connect at once the rest of their SYNs are dropped and retried
    // a second later (the demo's 64 connections saw 1 s first answers).
    // listen() again on the bound socket sets the backlog (Linux; the kernel
    // caps it at net.core.somaxconn).
    if (listen_fd >= 0 && ::listen(listen_fd, k_listen_backlog) != 0)
        s.log(std::string("API: could not widen the listen backlog: ") + std::strerror(errno));
    s.thread = std::thread([&s] { s.server.listen_after_bind(); });
    while (!svr.is_running())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    s.running = true;
    // Readiness: the API has answered one request on its own address before
    // start() returns (and the caller says it listens). This first request
    // also runs the server library's lazy one-time set-up (its function-local
    // statics) while nothing else is in flight; ThreadSanitizer cannot see
    // the guard of a static in the uninstrumented libcpp-httplib, and
    // reported the first concurrent requests as racing on it.
    const std::string self = s.o.host == "0.0.0.0" || s.o.host.empty()
                                 ? "127.0.0.1"
                                 : (s.o.host == "::" ? "::1" : s.o.host);
    httplib::Client probe(self, s.port);
    probe.set_connection_timeout(5, 0);
    probe.set_read_timeout(5, 0);
    const auto answer = probe.Get("/info");
    if (!answer || answer->status != 200) {
        stop();
        return "the API listens on " + s.o.host + ":" + std::to_string(s.port) +
               " but did not answer GET /info on it: check the address (--listen)";
    }
    s.requests.fetch_sub(1, std::memory_order_relaxed);  // not a client's
    return {};
}

int ApiServer::port() const {
    return m_state->port;
}

void ApiServer::stop() {
    State& s = *m_state;
    if (!s.running && !s.thread.joinable()) return;
    s.server.stop();
    if (s.thread.joinable()) s.thread.join();
    s.running = false;
}

void ApiServer::notify_durable() {
    m_state->wake_durable();
}

ApiStats ApiServer::stats() const {
    const State& s = *m_state;
    ApiStats st;
    st.requests = s.requests.load(std::memory_order_relaxed);
    st.accepted = s.accepted.load(std::memory_order_relaxed);
    st.existing = s.existing.load(std::memory_order_relaxed);
    st.rejected = s.rejected.load(std::memory_order_relaxed);
    st.unavailable = s.unavailable.load(std::memory_order_relaxed);
    return st;
}

SplitResult split_json_array(std::string_view text, std::size_t max_items,
                             std::vector<std::string_view>& items) {
    constexpr SplitResult k_bad = SplitResult::not_an_array;
    items.clear();
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    std::size_t i = 0;
    while (i < text.size() && blank(text[i]))
        ++i;
    if (i == text.size() || text[i] != '[') return k_bad;
    ++i;
    std::size_t depth = 0;
    std::size_t start = i;
    bool in_string = false;
    bool any = false;  // a non-blank character in the current element
    for (; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
            any = true;
        } else if (c == '[' || c == '{') {
            ++depth;
            any = true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        } else if (depth == 0 && (c == ',' || c == ']')) {
            std::string_view item = text.substr(start, i - start);
            if (any) {
                if (items.size() == max_items) return SplitResult::too_many;
                items.push_back(item);
            } else if (c == ',' || !items.empty()) {
                return k_bad;  // an empty element: "[,]" or "[1,]"
            }
            start = i + 1;
            any = false;
            if (c == ']') {
                for (++i; i < text.size(); ++i)
                    if (!blank(text[i])) return k_bad;
                return SplitResult::ok;
            }
        } else if (!blank(c)) {
            any = true;
        }
    }
    return k_bad;  // not closed
}

}  // namespace raregen::api
