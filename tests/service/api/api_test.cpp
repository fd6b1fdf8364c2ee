// RareGen's HTTP API over a running service engine, in process, against a
// real PostgreSQL 15 and over real HTTP on loopback (cpp-httplib's client):
// every route's status codes and bodies field by field, every class of bad
// input with its code (and every table unchanged), the 202 given only once
// the job's row is durable, a retried intent answered with its job, batches,
// and at the end the exactly-once audit over the tables and the
// transactions the engine wrote.

#include "service/api/api_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/hash.h"
#include "service/api/admin_server.h"
#include "service/engine/engine.h"
#include "stages/ingest/intake_queue.h"
#include "stages/ingest/jcs.h"
#include "storage/jobs/audit.h"
#include "tests/storage/pg/pg_test_env.h"
#include "tests/support/engine/engine_fixtures.h"
#include "tools/gen/intent_gen.h"

namespace raregen::api {
namespace {

using namespace std::chrono_literals;
using ingest::GeneratedKind;
using pg::testing::PgTest;
using raregen::testing::make_utxos;
using raregen::testing::read_output;
using raregen::testing::TempDir;
using raregen::testing::test_key;

// Generated intents sorted by kind, and the registration list of their signers.
struct Corpus {
    std::map<GeneratedKind, std::vector<std::string>> by_kind;
    std::string registered_file;
};

Corpus make_corpus(const TempDir& dir, std::size_t n, double invalid_share, std::uint64_t seed) {
    ingest::IntentGenOptions o;
    o.count = n;
    o.signers = 2;
    o.invalid_share = invalid_share;
    o.seed = seed;
    o.timestamp =
        std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
    ingest::IntentGenerator gen(o);
    Corpus c;
    c.registered_file = dir.path("registered-" + std::to_string(seed));
    std::ofstream(c.registered_file) << gen.registry_text();
    std::string line;
    while (!gen.done()) {
        const GeneratedKind k = gen.next(line);
        c.by_kind[k].push_back(line);
    }
    return c;
}

// The hash a client expects back: SHA-256 of the record's RFC 8785 form.
std::string record_hash_of(const std::string& intent) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    EXPECT_EQ(parser.parse(intent).get(root), simdjson::SUCCESS);
    ingest::Canonicalizer canonicalizer;
    std::string canonical;
    EXPECT_EQ(canonicalizer.canonicalize(root["record"].value(), canonical), ingest::JcsStatus::ok);
    const chain::Hash256 h = chain::sha256(
        chain::ByteSpan(reinterpret_cast<const std::uint8_t*>(canonical.data()), canonical.size()));
    return chain::to_hex(chain::ByteSpan(h.data(), h.size()));
}

class ApiTest : public PgTest {
  protected:
    void start(const Corpus& corpus, std::size_t utxos = 600) {
        m_db = fresh_database();
        m_queue.emplace(256);
        service::EngineConfig c;
        c.key.emplace(test_key());
        c.database_url = m_db;
        c.out_path = m_dir.path("tx.ef");
        c.registered_file = corpus.registered_file;
        c.utxos = make_utxos(utxos, 7);
        c.rate = 1000;
        c.period = 100ms;
        c.batch_window = 50ms;
        c.max_batch_size = 40;
        c.handle_signals = false;
        c.progress_interval = 0ms;
        c.log_prefix = "api_test";
        c.service = true;
        c.intake_queue = &*m_queue;
        c.on_durable = [this] {
            if (ApiServer* a = m_api_ptr.load()) a->notify_durable();
        };
        m_engine.emplace(std::move(c));
        const service::EngineError e = m_engine->start();
        ASSERT_FALSE(e) << e.message;
        ApiOptions ao;
        ao.host = "127.0.0.1";
        ao.port = 0;
        ao.conninfo = m_engine->conninfo();
        ao.max_body = 8 * 1024;
        ao.max_batch_items = 50;
        ao.threads = 16;
        ao.settings = Json{{"maxBatchSize", 40}};
        m_api.emplace(*m_engine, *m_queue, ao);
        ASSERT_EQ(m_api->start(), "");
        m_api_ptr = &*m_api;
        m_client.emplace("127.0.0.1", m_api->port());
        m_client->set_read_timeout(30, 0);
    }

    void stop() {
        if (!m_engine) return;
        m_engine->request_stop();
        m_engine->wait();
        EXPECT_FALSE(m_engine->outcome()) << m_engine->outcome().message;
        m_api->stop();
        m_api_ptr = nullptr;
    }

    void TearDown() override {
        stop();
        m_api.reset();
        m_engine.reset();
        PgTest::TearDown();
    }

    struct Answer {
        int status = 0;
        Json body;
        std::string retry_after;
    };
    Answer post(const std::string& path, const std::string& body,
                const std::string& type = "application/json") {
        auto r = m_client->Post(path.c_str(), body, type.c_str());
        Answer a;
        if (!r) return a;
        a.status = r->status;
        a.body = Json::parse(r->body, nullptr, false);
        a.retry_after = r->get_header_value("Retry-After");
        return a;
    }
    Answer get(const std::string& path) {
        auto r = m_client->Get(path.c_str());
        Answer a;
        if (!r) return a;
        a.status = r->status;
        a.body = Json::parse(r->body, nullptr, false);
        return a;
    }

    std::string scalar(const std::string& sql) {
        pg::Connection c = connect(m_db);
        pg::Result r = c.exec(sql);
        EXPECT_TRUE(r.ok()) << r.error();
        return r.ok() && r.rows() > 0 ? std::string(r.text(0, 0)) : std::string();
    }
    // What an operator reads, as one comparable string.
    std::string tables() {
        return scalar(
            "SELECT (SELECT count(*) FROM publish_jobs) || '/' || (SELECT count(*) FROM "
            "nonces) || '/' || (SELECT count(*) FROM audit_log) || '/' || (SELECT count(*) "
            "FROM publish_batches) || '/' || (SELECT count(*) FROM utxos WHERE status <> "
            "'available') || '/' || (SELECT count(*) FROM registered_keys)");
    }

    jobs::ExactlyOnceAudit audit() {
        pg::Connection c = connect(m_db);
        const std::vector<jobs::HandedOver> handed = read_output(m_dir.path("tx.ef"));
        jobs::ExactlyOnceAudit a;
        EXPECT_TRUE(jobs::audit_exactly_once(c, "", &handed, a).ok());
        return a;
    }

    TempDir m_dir;
    std::string m_db;
    std::optional<ingest::IntakeQueue> m_queue;
    std::optional<service::Engine> m_engine;
    std::optional<ApiServer> m_api;
    std::atomic<ApiServer*> m_api_ptr{nullptr};
    std::optional<httplib::Client> m_client;
};

TEST_F(ApiTest, APublishIsAnswered202OnlyOnceItsRowIsDurableAndEveryRouteReadsIt) {
    const Corpus corpus = make_corpus(m_dir, 120, 0.0, 31);
    start(corpus);
    const auto& valid = corpus.by_kind.at(GeneratedKind::valid);
    ASSERT_EQ(valid.size(), 120u);

    // Eight clients at once: the requests share flushes.
    std::vector<Answer> answers(valid.size());
    std::vector<std::string> rows_at_202(valid.size());
    std::vector<std::thread> clients;
    std::atomic<std::size_t> next{0};
    for (int t = 0; t < 8; ++t)
        clients.emplace_back([&] {
            httplib::Client cl("127.0.0.1", m_api->port());
            cl.set_read_timeout(30, 0);
            pg::Connection db = connect(m_db);
            for (std::size_t i = next++; i < valid.size(); i = next++) {
                auto r = cl.Post("/v1/publish", valid[i], "application/json");
                if (!r) continue;
                answers[i].status = r->status;
                answers[i].body = Json::parse(r->body, nullptr, false);
                if (r->status != 202) continue;
                // The 202 is out: the row must already be there.
                const std::string id = answers[i].body.value("jobId", "");
                pg::Result q =
                    db.exec_params("SELECT status FROM publish_jobs WHERE job_id = $1", id);
                rows_at_202[i] = q.ok() && q.rows() == 1 ? "present" : "missing";
            }
        });
    for (auto& t : clients)
        t.join();

    std::set<std::string> ids;
    for (std::size_t i = 0; i < valid.size(); ++i) {
        const Answer& a = answers[i];
        ASSERT_EQ(a.status, 202) << a.body.dump();
        EXPECT_EQ(rows_at_202[i], "present") << "a 202 before the job's row was durable";
        const Json intent = Json::parse(valid[i]);
        EXPECT_EQ(a.body["ok"], true);
        EXPECT_EQ(a.body["status"], "queued");
        EXPECT_EQ(a.body["recordId"], intent["record"]["recordId"]);
        EXPECT_EQ(a.body["hash"], record_hash_of(valid[i]));
        EXPECT_EQ(a.body["jobId"].get<std::string>().size(), 36u);
        EXPECT_EQ(a.body.size(), 5u) << a.body.dump();
        ids.insert(a.body["jobId"].get<std::string>());
    }
    EXPECT_EQ(ids.size(), valid.size());

    // Reads: a job, its record, and what is not there.
    const Answer first = answers[0];
    const std::string job_id = first.body["jobId"];
    const Answer job = get("/v1/job/" + job_id);
    ASSERT_EQ(job.status, 200) << job.body.dump();
    EXPECT_EQ(job.body["ok"], true);
    EXPECT_EQ(job.body["jobId"], job_id);
    EXPECT_EQ(job.body["recordId"], first.body["recordId"]);
    EXPECT_TRUE(job.body["status"].is_string());
    EXPECT_TRUE(job.body.contains("txid"));
    EXPECT_TRUE(job.body.contains("errorCode"));
    EXPECT_TRUE(job.body.contains("errorDetail"));
    const std::string created = job.body["timestamps"]["createdAt"];
    EXPECT_EQ(created.size(), 24u) << created;  // 2026-12-04T10:11:12.345Z
    EXPECT_EQ(created.back(), 'Z');
    EXPECT_TRUE(job.body["timestamps"].contains("sentAt"));
    EXPECT_TRUE(job.body["timestamps"].contains("confirmedAt"));

    const std::string record_id = first.body["recordId"];
    const Answer rec = get("/v1/record/" + record_id);
    ASSERT_EQ(rec.status, 200) << rec.body.dump();
    EXPECT_EQ(rec.body["recordId"], record_id);
    EXPECT_EQ(rec.body["recordHash"], first.body["hash"]);
    EXPECT_EQ(rec.body["jobId"], job_id);
    EXPECT_EQ(nlohmann::json::parse(rec.body["record"].dump()),
              nlohmann::json::parse(valid[0])["record"]);  // member order aside

    EXPECT_EQ(get("/v1/job/no-such-job").status, 404);
    EXPECT_EQ(get("/v1/job/no-such-job").body["error"], "Job not found");
    EXPECT_EQ(get("/v1/record/no-such-record").status, 404);
    EXPECT_EQ(get("/v1/record/no-such-record").body["error"], "Record not found");
    EXPECT_EQ(get("/v1/nothing").status, 404);

    // Every job is published, and a job read after that says so.
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (m_engine->progress().sent < valid.size() && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(10ms);
    stop();
    const jobs::ExactlyOnceAudit a = audit();
    EXPECT_TRUE(a.ok()) << a.example;
    EXPECT_EQ(a.sent, valid.size());
    EXPECT_EQ(a.matched, valid.size());
    const Answer after = get("/v1/job/" + job_id);  // the server stopped: no answer
    EXPECT_EQ(after.status, 0);
    EXPECT_EQ(scalar("SELECT status FROM publish_jobs WHERE job_id = '" + job_id + "'"), "sent");
}

TEST_F(ApiTest, EveryBadIntentGetsItsCodeAndLeavesEveryTableUnchanged) {
    const Corpus corpus = make_corpus(m_dir, 80, 0.6, 32);
    start(corpus);
    const std::string valid = corpus.by_kind.at(GeneratedKind::valid).front();
    // One accepted first, so a replayed nonce has something to replay.
    ASSERT_EQ(post("/v1/publish", valid).status, 202);
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (m_engine->progress().sent < 1 && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(200ms);  // its later facts are written
    const std::string before = tables();

    struct Case {
        std::string name, body, code;
        int status = 400;
        std::string type = "application/json";
    };
    std::vector<Case> cases;
    const Json base = Json::parse(valid);
    auto edited = [&](auto&& edit) {
        Json j = base;
        edit(j);
        return j.dump();
    };
    cases.push_back({"broken JSON", "{\"protocol\": \"sl-drm\",", "bad_json"});
    cases.push_back({"not JSON at all", "hello", "bad_json"});
    cases.push_back({"empty body", "", "bad_json"});
    cases.push_back({"an array", "[]", "schema"});
    for (const char* field : {"protocol", "version", "record", "signer", "signature"})
        cases.push_back(
            {std::string("no ") + field, edited([&](Json& j) { j.erase(field); }), "schema"});
    for (const char* field : {"type", "assetId", "recordId", "event", "timestamp", "owners",
                              "distribution", "terms", "nonce"})
        cases.push_back({std::string("no record.") + field,
                         edited([&](Json& j) { j["record"].erase(field); }), "schema"});
    cases.push_back(
        {"no signer.pubkey", edited([](Json& j) { j["signer"].erase("pubkey"); }), "schema"});
    cases.push_back(
        {"no signature.sig", edited([](Json& j) { j["signature"].erase("sig"); }), "schema"});
    cases.push_back({"version a string", edited([](Json& j) { j["version"] = "1"; }), "schema"});
    cases.push_back({"owners an object",
                     edited([](Json& j) { j["record"]["owners"] = Json::object(); }), "schema"});
    cases.push_back(
        {"nonce a number", edited([](Json& j) { j["record"]["nonce"] = 7; }), "schema"});
    cases.push_back(
        {"pubkey not hex", edited([](Json& j) { j["signer"]["pubkey"] = "zz"; }), "schema"});
    cases.push_back({"dated next year",
                     edited([](Json& j) { j["record"]["timestamp"] = "2099-01-01T00:00:00Z"; }),
                     "future"});
    // The nonce of the accepted intent on another record: a replay.
    cases.push_back({"replayed nonce",
                     edited([](Json& j) { j["record"]["assetId"] = "another-asset"; }),
                     "nonce_replay"});
    // On a record not sent yet (with the accepted one's nonce they would be
    // replays: the nonce is checked before the signature).
    const Json fresh = Json::parse(corpus.by_kind.at(GeneratedKind::valid).at(1));
    auto fresh_edited = [&](auto&& edit) {
        Json j = fresh;
        edit(j);
        return j.dump();
    };
    cases.push_back({"signature not base64",
                     fresh_edited([](Json& j) { j["signature"]["sig"] = "%%%not base64%%%"; }),
                     "bad_signature"});
    cases.push_back({"signature.hash of something else",
                     fresh_edited([](Json& j) { j["signature"]["hash"] = std::string(64, 'a'); }),
                     "bad_signature"});
    cases.push_back({"the accepted record, badly signed",
                     edited([](Json& j) { j["signature"]["sig"] = "%%%not base64%%%"; }),
                     "nonce_replay"});
    const std::map<GeneratedKind, std::string> kinds = {
        {GeneratedKind::bad_schema, "schema"},
        {GeneratedKind::stale, "stale"},
        {GeneratedKind::bad_signature, "bad_signature"},
        {GeneratedKind::unknown_signer, "unknown_signer"},
        {GeneratedKind::revoked_signer, "inactive_signer"}};
    for (const auto& [kind, code] : kinds) {
        ASSERT_TRUE(corpus.by_kind.count(kind)) << ingest::generated_kind_name(kind);
        for (const std::string& line : corpus.by_kind.at(kind))
            cases.push_back({std::string(ingest::generated_kind_name(kind)), line, code});
    }
    cases.push_back({"oversized", std::string(9 * 1024, ' ') + valid, "too_large", 413});
    cases.push_back({"text/plain", valid, "unsupported_media_type", 415, "text/plain"});
    cases.push_back(
        {"form", valid, "unsupported_media_type", 415, "application/x-www-form-urlencoded"});

    for (const Case& c : cases) {
        const Answer a = post("/v1/publish", c.body, c.type);
        EXPECT_EQ(a.status, c.status) << c.name << ": " << a.body.dump();
        EXPECT_EQ(a.body["ok"], false) << c.name;
        EXPECT_EQ(a.body["code"], c.code) << c.name << ": " << a.body.dump();
        EXPECT_FALSE(a.body.value("error", "").empty()) << c.name;
    }
    EXPECT_EQ(tables(), before) << "a rejected intent changed a table";
    EXPECT_EQ(m_api->stats().accepted, 1u);
}

TEST_F(ApiTest, ARetriedIntentIsAnsweredWithItsJobAndNeverMadeTwice) {
    const Corpus corpus = make_corpus(m_dir, 20, 0.0, 33);
    start(corpus);
    const auto& valid = corpus.by_kind.at(GeneratedKind::valid);
    const Answer first = post("/v1/publish", valid[0]);
    ASSERT_EQ(first.status, 202) << first.body.dump();
    for (int retry = 0; retry < 3; ++retry) {
        const Answer again = post("/v1/publish", valid[0]);
        ASSERT_EQ(again.status, 200) << again.body.dump();
        EXPECT_EQ(again.body["ok"], true);
        EXPECT_EQ(again.body["jobId"], first.body["jobId"]);
        EXPECT_EQ(again.body["hash"], first.body["hash"]);
        EXPECT_EQ(again.body["recordId"], first.body["recordId"]);
        EXPECT_EQ(again.body["existing"], true);
    }
    // In a batch too, beside a new one.
    const Answer batch =
        post("/v1/publish/batch", "[" + valid[0] + "," + valid[1] + "]", "application/json");
    ASSERT_EQ(batch.status, 200) << batch.body.dump();
    EXPECT_EQ(batch.body["results"][0]["httpStatus"], 200);
    EXPECT_EQ(batch.body["results"][0]["jobId"], first.body["jobId"]);
    EXPECT_EQ(batch.body["results"][1]["httpStatus"], 202);
    // A retry that arrives before the first attempt is durable (here: the
    // same intent twice in one batch, judged before one flush) is answered
    // with that job too, not refused as a replay.
    const Answer twice =
        post("/v1/publish/batch", "[" + valid[2] + "," + valid[2] + "]", "application/json");
    ASSERT_EQ(twice.status, 200) << twice.body.dump();
    EXPECT_EQ(twice.body["results"][0]["httpStatus"], 202) << twice.body.dump();
    EXPECT_EQ(twice.body["results"][1]["httpStatus"], 200) << twice.body.dump();
    EXPECT_EQ(twice.body["results"][1]["existing"], true);
    EXPECT_EQ(twice.body["results"][1]["jobId"], twice.body["results"][0]["jobId"]);
    stop();
    EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs"), "3");
    const jobs::ExactlyOnceAudit a = audit();
    EXPECT_TRUE(a.ok()) << a.example;
    EXPECT_EQ(a.sent, 3u);
}

TEST_F(ApiTest, ABatchIsAnsweredItemByItemInOrder) {
    const Corpus corpus = make_corpus(m_dir, 40, 0.25, 34);
    start(corpus);
    const auto& valid = corpus.by_kind.at(GeneratedKind::valid);
    const std::string bad = corpus.by_kind.at(GeneratedKind::unknown_signer).front();
    const Answer a =
        post("/v1/publish/batch", "[\n " + valid[0] + ",\n" + bad + " , " + valid[1] + "]\n",
             "application/json");
    ASSERT_EQ(a.status, 200) << a.body.dump();
    ASSERT_EQ(a.body["results"].size(), 3u);
    EXPECT_EQ(a.body["count"], 3);
    EXPECT_EQ(a.body["results"][0]["httpStatus"], 202);
    EXPECT_EQ(a.body["results"][0]["recordId"], Json::parse(valid[0])["record"]["recordId"]);
    EXPECT_EQ(a.body["results"][1]["httpStatus"], 400);
    EXPECT_EQ(a.body["results"][1]["code"], "unknown_signer");
    EXPECT_EQ(a.body["results"][2]["httpStatus"], 202);
    EXPECT_EQ(a.body["results"][2]["recordId"], Json::parse(valid[1])["record"]["recordId"]);

    const Answer nd =
        post("/v1/publish/batch", valid[2] + "\n\n" + valid[3] + "\r\n", "application/x-ndjson");
    ASSERT_EQ(nd.status, 200) << nd.body.dump();
    ASSERT_EQ(nd.body["results"].size(), 2u);
    EXPECT_EQ(nd.body["results"][0]["httpStatus"], 202);
    EXPECT_EQ(nd.body["results"][1]["httpStatus"], 202);

    EXPECT_EQ(post("/v1/publish/batch", "{\"not\": \"an array\"}").body["code"], "bad_json");
    EXPECT_EQ(post("/v1/publish/batch", "[" + valid[4] + ",]").status, 400);
    EXPECT_EQ(post("/v1/publish/batch", valid[4], "text/plain").status, 415);
    std::string many = "[";
    for (int i = 0; i < 51; ++i)
        many += (i ? "," : "") + valid[5];
    const Answer over = post("/v1/publish/batch", many + "]");
    EXPECT_EQ(over.status, 413) << over.body.dump();
    EXPECT_EQ(over.body["code"], "too_large");
    const Answer far_over = post("/v1/publish/batch", many + "," + valid[5] + "]");
    EXPECT_EQ(far_over.status, 413) << far_over.body.dump();
    EXPECT_EQ(far_over.body["code"], "too_large");
    stop();
    EXPECT_EQ(scalar("SELECT count(*) FROM publish_jobs"), "4");
}

TEST_F(ApiTest, HealthAndInfoSayWhatRunsAndNoSecret) {
    const Corpus corpus = make_corpus(m_dir, 4, 0.0, 35);
    start(corpus, 50);
    const Answer h = get("/health");
    ASSERT_EQ(h.status, 200) << h.body.dump();
    EXPECT_EQ(h.body["ok"], true);
    EXPECT_EQ(h.body["database"], "connected");
    EXPECT_EQ(h.body["writeBehind"]["healthy"], true);
    EXPECT_EQ(h.body["network"]["arc"], false);
    // Leased into the ring or still in the table: 50 in all.
    EXPECT_EQ(h.body["pool"]["available"].get<std::int64_t>() +
                  h.body["pool"]["inRing"].get<std::int64_t>(),
              50);
    EXPECT_EQ(h.body["timestamp"].get<std::string>().back(), 'Z');

    const Answer i = get("/info");
    ASSERT_EQ(i.status, 200);
    EXPECT_EQ(i.body["name"], "raregen");
    EXPECT_FALSE(i.body["version"].get<std::string>().empty());
    EXPECT_EQ(i.body["features"]["signedPublishing"], true);
    EXPECT_EQ(i.body["features"]["batchPublishing"], true);
    EXPECT_EQ(i.body["settings"]["maxBatchSize"], 40);
    const std::string text = i.body.dump() + h.body.dump();
    EXPECT_EQ(text.find("password"), std::string::npos);
    EXPECT_EQ(text.find(m_db), std::string::npos);

    // Stopping: intake closes, new intents get 503 and a Retry-After.
    m_engine->request_stop();
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    Answer late;
    do {
        late = post("/v1/publish", corpus.by_kind.at(GeneratedKind::valid)[0]);
    } while (late.status == 202 && std::chrono::steady_clock::now() < give_up);
    EXPECT_EQ(late.status, 503) << late.body.dump();
    EXPECT_EQ(late.body["code"], "shutting_down");
    EXPECT_FALSE(late.retry_after.empty());
    EXPECT_EQ(get("/health").status, 503);
}

TEST(SplitJsonArray, FindsTheElementsAndRefusesWhatIsNotAClosedArray) {
    std::vector<std::string_view> items;
    ASSERT_EQ(split_json_array(R"( [ {"a":"],\"x"}, [1,[2]] ,"s" ,3 ] )", 10, items),
              SplitResult::ok);
    ASSERT_EQ(items.size(), 4u);
    EXPECT_EQ(items[0], R"( {"a":"],\"x"})");
    EXPECT_EQ(items[1], " [1,[2]] ");
    EXPECT_EQ(items[2], R"("s" )");
    EXPECT_EQ(items[3], "3 ");
    EXPECT_EQ(split_json_array("[]", 10, items), SplitResult::ok);
    EXPECT_TRUE(items.empty());
    EXPECT_EQ(split_json_array(" [ ] ", 10, items), SplitResult::ok);
    EXPECT_EQ(split_json_array("[1,2", 10, items), SplitResult::not_an_array);
    EXPECT_EQ(split_json_array("[1,]", 10, items), SplitResult::not_an_array);
    EXPECT_EQ(split_json_array("[,1]", 10, items), SplitResult::not_an_array);
    EXPECT_EQ(split_json_array("{}", 10, items), SplitResult::not_an_array);
    EXPECT_EQ(split_json_array("[1] x", 10, items), SplitResult::not_an_array);
    EXPECT_EQ(split_json_array("[\"]", 10, items), SplitResult::not_an_array);
    EXPECT_EQ(split_json_array("[1,2,3]", 2, items), SplitResult::too_many);
    EXPECT_EQ(split_json_array("[1,2]", 2, items), SplitResult::ok);
}

TEST_F(ApiTest, OperatorEndpointsRegisterAndRevokeSignersOfTheRunningEngine) {
    const Corpus corpus = make_corpus(m_dir, 120, 0.5, 43);
    start(corpus);
    const std::string token = "operator-token-4f1c9a27e0";
    std::vector<std::string> log;
    std::mutex log_mu;
    AdminOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.token = token;
    o.conninfo = m_engine->conninfo();
    o.on_log = [&](const std::string& line) {
        std::lock_guard lock(log_mu);
        log.push_back(line);
    };
    {
        AdminOptions no_token = o;
        no_token.token.clear();
        AdminServer refused(*m_engine, no_token);
        EXPECT_NE(refused.start().find("--admin-token-file"), std::string::npos);
    }
    AdminServer admin(*m_engine, o);
    ASSERT_EQ(admin.start(), "");
    ASSERT_NE(admin.port(), m_api->port());
    httplib::Client ac("127.0.0.1", admin.port());
    ac.set_read_timeout(30, 0);
    const httplib::Headers auth{{"Authorization", "Bearer " + token}};
    auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                    const httplib::Headers& headers) {
        auto r = method == "GET" ? ac.Get(path.c_str(), headers)
                                 : ac.Post(path.c_str(), headers, body, "application/json");
        Answer a;
        if (!r) return a;
        a.status = r->status;
        a.body = Json::parse(r->body, nullptr, false);
        a.retry_after = r->get_header_value("WWW-Authenticate");
        EXPECT_EQ(r->body.find(token), std::string::npos) << "the token was echoed";
        return a;
    };
    auto pubkey_of = [](const std::string& intent) {
        return Json::parse(intent)["signer"]["pubkey"].get<std::string>();
    };

    // Without the token, or with another one: 401, nothing read or changed.
    const std::string keys_before = scalar("SELECT count(*) FROM registered_keys");
    for (const httplib::Headers& h :
         {httplib::Headers{}, httplib::Headers{{"Authorization", "Bearer nope"}},
          httplib::Headers{{"Authorization", token}}}) {
        const Answer a = call("GET", "/admin/signers", "", h);
        EXPECT_EQ(a.status, 401);
        EXPECT_EQ(a.retry_after, "Bearer");
        EXPECT_EQ(a.body["code"], "unauthorized");
        const Answer b = call(
            "POST", "/admin/signers",
            Json{{"pubkey", pubkey_of(corpus.by_kind.at(GeneratedKind::unknown_signer)[0])}}.dump(),
            h);
        EXPECT_EQ(b.status, 401);
    }
    EXPECT_EQ(scalar("SELECT count(*) FROM registered_keys"), keys_before);
    // The public API does not serve them.
    EXPECT_EQ(get("/admin/signers").status, 404);

    // The list is the table.
    Answer listed = call("GET", "/admin/signers", "", auth);
    ASSERT_EQ(listed.status, 200) << listed.body.dump();
    EXPECT_EQ(std::to_string(listed.body["signers"].size()), keys_before);

    // An unknown signer's intent: refused, then accepted once registered,
    // with no restart.
    const std::string stranger = corpus.by_kind.at(GeneratedKind::unknown_signer)[0];
    EXPECT_EQ(post("/v1/publish", stranger).body["code"], "unknown_signer");
    Answer r =
        call("POST", "/admin/signers",
             Json{{"pubkey", pubkey_of(stranger)}, {"policy", {{"note", "test"}}}}.dump(), auth);
    ASSERT_EQ(r.status, 200) << r.body.dump();
    EXPECT_EQ(r.body["outcome"], "registered");
    EXPECT_EQ(r.body["status"], "active");
    EXPECT_EQ(scalar("SELECT status || ' ' || (policy_json->>'note') FROM registered_keys WHERE "
                     "pubkey_hex = '" +
                     pubkey_of(stranger) + "'"),
              "active test");
    EXPECT_EQ(post("/v1/publish", stranger).status, 202);

    // A registered signer revoked: its next intent is refused; registered
    // again, accepted.
    const auto& valid = corpus.by_kind.at(GeneratedKind::valid);
    ASSERT_GE(valid.size(), 2u);
    const std::string signer = pubkey_of(valid[0]);
    r = call("POST", "/admin/signers/" + signer + "/revoke", "", auth);
    ASSERT_EQ(r.status, 200) << r.body.dump();
    EXPECT_EQ(r.body["outcome"], "revoked");
    EXPECT_EQ(scalar("SELECT status FROM registered_keys WHERE pubkey_hex = '" + signer + "'"),
              "revoked");
    EXPECT_EQ(post("/v1/publish", valid[0]).body["code"], "inactive_signer");
    r = call("POST", "/admin/signers/" + signer + "/revoke", "", auth);
    EXPECT_EQ(r.body["outcome"], "already_revoked");
    r = call("POST", "/admin/signers", Json{{"pubkey", signer}}.dump(), auth);
    EXPECT_EQ(r.body["outcome"], "reactivated");
    EXPECT_EQ(post("/v1/publish", valid[0]).status, 202);

    // Bad requests: each its code, nothing changed.
    const std::string keys_now = scalar(
        "SELECT count(*) || '/' || count(*) FILTER (WHERE status "
        "= 'active') FROM registered_keys");
    EXPECT_EQ(call("POST", "/admin/signers", "{\"pubkey\":", auth).body["code"], "bad_json");
    EXPECT_EQ(call("POST", "/admin/signers", "{}", auth).body["code"], "bad_pubkey");
    EXPECT_EQ(call("POST", "/admin/signers", Json{{"pubkey", "02abc"}}.dump(), auth).body["code"],
              "bad_pubkey");
    EXPECT_EQ(call("POST", "/admin/signers", Json{{"pubkey", signer}, {"policy", 7}}.dump(), auth)
                  .body["code"],
              "bad_policy");
    EXPECT_EQ(call("POST", "/admin/signers/zz/revoke", "", auth).status, 400);
    const std::string absent = pubkey_of(corpus.by_kind.at(GeneratedKind::unknown_signer).back());
    if (absent != pubkey_of(stranger)) {
        const Answer a = call("POST", "/admin/signers/" + absent + "/revoke", "", auth);
        EXPECT_EQ(a.status, 404);
        EXPECT_EQ(a.body["code"], "not_registered");
    }
    EXPECT_EQ(call("GET", "/admin/nothing", "", auth).status, 404);
    EXPECT_EQ(scalar("SELECT count(*) || '/' || count(*) FILTER (WHERE status = 'active') FROM "
                     "registered_keys"),
              keys_now);

    admin.stop();
    stop();
    EXPECT_TRUE(audit().ok());
    std::lock_guard lock(log_mu);
    EXPECT_EQ(log.size(), 4u);  // registered, revoked, already_revoked, reactivated
    for (const std::string& line : log)
        EXPECT_EQ(line.find(token), std::string::npos) << line;
}

}  // namespace
}  // namespace raregen::api
