#include "storage/pg/migrations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <latch>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/storage/pg/pg_test_env.h"

namespace raregen::pg {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::PgTest;

const std::string k_hash_a(64, 'a');
const std::string k_hash_b(64, 'b');
const std::string k_txid_1 = std::string(63, '0') + "1";
const std::string k_txid_2 = std::string(63, '0') + "2";

// column name -> data type, for one table of the current schema.
std::map<std::string, std::string> columns_of(Connection& c, const std::string& table) {
    Result r = c.exec_params(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = $1",
        table);
    EXPECT_TRUE(r.ok()) << r.error();
    std::map<std::string, std::string> out;
    for (int i = 0; i < r.rows(); ++i)
        out[std::string(r.text(i, 0))] = std::string(r.text(i, 1));
    return out;
}

// Everything migrations create, as text: columns, constraints, indexes.
std::string schema_snapshot(Connection& c) {
    Result r = c.exec(R"SQL(
        SELECT string_agg(x, E'\n' ORDER BY x) FROM (
            SELECT table_name || '.' || column_name || ' ' || data_type || ' ' ||
                   coalesce(column_default, '-') || ' ' || is_nullable AS x
              FROM information_schema.columns WHERE table_schema = current_schema()
            UNION ALL
            SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
              FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
            UNION ALL
            SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()
            UNION ALL
            SELECT 'row ' || gate || ' ' || capacity || ' ' || period_ms FROM raregen_rate_tokens
        ) s)SQL");
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? std::string(r.text(0, 0)) : std::string();
}

std::vector<int> recorded_versions(Connection& c) {
    Result r = c.exec("SELECT version FROM raregen_schema_migrations ORDER BY version");
    EXPECT_TRUE(r.ok()) << r.error();
    std::vector<int> v;
    for (int i = 0; i < r.rows(); ++i)
        v.push_back(static_cast<int>(r.int64(i, 0).value_or(-1)));
    return v;
}

class PgMigrations : public PgTest {};

TEST_F(PgMigrations, ApplyToAnEmptyDatabase) {
    Connection c = connect(fresh_database());
    MigrationReport report;
    Status st = migrate(c, &report);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(report.version_before, 0);
    EXPECT_EQ(report.version_after, 6);
    EXPECT_THAT(report.applied, ElementsAre(1, 2, 3, 4, 5, 6));

    Result rows = c.exec(
        "SELECT version, name, applied_at IS NOT NULL FROM raregen_schema_migrations ORDER BY 1");
    ASSERT_TRUE(rows.ok()) << rows.error();
    ASSERT_EQ(rows.rows(), 6);
    EXPECT_EQ(rows.text(0, 1), "raregen_service_tables");
    EXPECT_EQ(rows.text(1, 1), "exactly_once");
    EXPECT_EQ(rows.text(1, 2), "t");
    EXPECT_EQ(rows.text(2, 1), "outcomes_in_place");
    EXPECT_EQ(rows.text(4, 1), "replenisher_splits");
    EXPECT_EQ(rows.text(5, 1), "shared_rate_leases");
    // No index mentions status (outcome updates stay in place).
    Result idx = c.exec(
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'publish_jobs' AND indexdef LIKE "
        "'%status%'");
    EXPECT_EQ(idx.text(0, 0), "0");

    // Every column docs/protocol.md §6 lists, with the types chosen.
    const auto jobs = columns_of(c, "publish_jobs");
    for (const char* col :
         {"job_id", "record_id", "record_canonical", "record_hash", "cdn_url", "file_sha256",
          "status", "txid", "error_code", "error_detail", "processing_batch_id", "batch_seq",
          "sending_started_at", "created_at", "sent_at", "confirmed_at", "updated_at"}) {
        EXPECT_TRUE(jobs.count(col)) << "publish_jobs." << col;
    }
    EXPECT_EQ(jobs.at("created_at"), "timestamp with time zone");
    EXPECT_EQ(jobs.at("status"), "text");
    EXPECT_EQ(jobs.at("signed_tx"), "bytea");
    EXPECT_EQ(jobs.at("ef_tx"), "bytea");
    EXPECT_EQ(jobs.at("spent_txid"), "text");
    EXPECT_EQ(jobs.at("spent_vout"), "bigint");
    EXPECT_EQ(jobs.at("intake_seq"), "bigint");
    EXPECT_EQ(jobs.at("instance_id"), "text");
    EXPECT_EQ(jobs.at("attempts"), "integer");

    const auto utxos = columns_of(c, "utxos");
    for (const char* col : {"txid", "vout", "satoshis", "script_pub_key", "address", "purpose",
                            "status", "reserved_at", "reserved_until", "reserved_by_job_id",
                            "spent_at", "spent_by_txid", "dirty", "leased_by", "lease_until"}) {
        EXPECT_TRUE(utxos.count(col)) << "utxos." << col;
    }
    EXPECT_EQ(utxos.at("lease_until"), "timestamp with time zone");

    const auto nonces = columns_of(c, "nonces");
    for (const char* col : {"pubkey_hex", "nonce", "record_id", "seen_at"}) {
        EXPECT_TRUE(nonces.count(col)) << "nonces." << col;
    }
    const auto keys = columns_of(c, "registered_keys");
    for (const char* col : {"pubkey_hex", "status", "policy_json"}) {
        EXPECT_TRUE(keys.count(col)) << "registered_keys." << col;
    }
    EXPECT_FALSE(columns_of(c, "audit_log").empty());
    EXPECT_FALSE(columns_of(c, "publish_batches").empty());
    const auto instances = columns_of(c, "raregen_instances");
    EXPECT_TRUE(instances.count("instance_id") && instances.count("heartbeat_at"));

    Result gate = c.exec(
        "SELECT capacity, period_ms, cardinality(grant_at) FROM raregen_rate_tokens WHERE gate = "
        "'publish'");
    ASSERT_TRUE(gate.ok()) << gate.error();
    ASSERT_EQ(gate.rows(), 1);
    EXPECT_EQ(gate.int64(0, 0), 500);
    EXPECT_EQ(gate.int64(0, 1), 3000);
    EXPECT_EQ(gate.int64(0, 2), 0);
}

TEST_F(PgMigrations, SecondRunIsANoop) {
    Connection c = connect(fresh_database());
    ASSERT_TRUE(migrate(c).ok());
    const std::string before = schema_snapshot(c);
    Result stamps_before = c.exec(
        "SELECT string_agg(applied_at::text, ',' ORDER BY version) FROM raregen_schema_migrations");
    ASSERT_FALSE(before.empty());

    MigrationReport report;
    Status st = migrate(c, &report);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_TRUE(report.applied.empty());
    EXPECT_EQ(report.version_before, 6);
    EXPECT_EQ(report.version_after, 6);
    EXPECT_EQ(schema_snapshot(c), before);
    Result stamps_after = c.exec(
        "SELECT string_agg(applied_at::text, ',' ORDER BY version) FROM raregen_schema_migrations");
    EXPECT_EQ(stamps_after.text(0, 0), stamps_before.text(0, 0));
    EXPECT_THAT(recorded_versions(c), ElementsAre(1, 2, 3, 4, 5, 6));
}

TEST_F(PgMigrations, ConcurrentEnginesApplyEachMigrationOnce) {
    constexpr int k_engines = 4;
    for (int round = 0; round < 3; ++round) {
        std::string suffix = "_";
        suffix += std::to_string(round);  // (not "_" + ...: GCC 12 -Wrestrict false positive)
        const std::string db = fresh_database(suffix);
        std::vector<Connection> conns;
        for (int i = 0; i < k_engines; ++i)
            conns.push_back(connect(db));
        std::vector<Status> results(k_engines);
        std::vector<MigrationReport> reports(k_engines);
        std::latch go(k_engines);
        std::vector<std::thread> threads;
        for (int i = 0; i < k_engines; ++i) {
            threads.emplace_back([&, i] {
                go.arrive_and_wait();
                results[i] = migrate(conns[i], &reports[i]);
            });
        }
        for (std::thread& t : threads)
            t.join();
        std::multiset<int> applied;
        for (int i = 0; i < k_engines; ++i) {
            EXPECT_TRUE(results[i].ok()) << "engine " << i << ": " << results[i].message();
            EXPECT_EQ(reports[i].version_after, 6);
            applied.insert(reports[i].applied.begin(), reports[i].applied.end());
        }
        EXPECT_EQ(applied, (std::multiset<int>{1, 2, 3, 4, 5, 6})) << "round " << round;
        EXPECT_THAT(recorded_versions(conns[0]), ElementsAre(1, 2, 3, 4, 5, 6));
    }
}

// The RareGen service's tables as an older deployment might have them: other
// types (uuid, varchar, timestamp without time zone, json), a serial id,
// some §6 columns missing, no unique (txid, vout), other audit columns.
constexpr const char* k_old_schema = R"SQL(
CREATE TABLE publish_jobs (
    id                  serial PRIMARY KEY,
    job_id              uuid NOT NULL UNIQUE,
    record_id           varchar(128) NOT NULL,
    record_canonical    text NOT NULL,
    record_hash         varchar(64) NOT NULL UNIQUE,
    cdn_url             text,
    file_sha256         text,
    status              varchar(32) NOT NULL DEFAULT 'queued',
    txid                varchar(64),
    error_code          text,
    error_detail        text,
    processing_batch_id text,
    batch_seq           int,
    created_at          timestamp NOT NULL DEFAULT now(),
    sent_at             timestamp,
    confirmed_at        timestamp
);
INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, status, txid, batch_seq, created_at)
VALUES ('1b4e28ba-2fa1-4d3b-883f-0016d3cca427', 'rec-1', '{"a":1}',
        'abababababababababababababababababababababababababababababababab', 'sent',
        'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd', 1, '2025-01-02 03:04:05');
CREATE TABLE utxos (
    id                 serial PRIMARY KEY,
    txid               varchar(64) NOT NULL,
    vout               int NOT NULL,
    satoshis           bigint NOT NULL,
    script_pub_key     text NOT NULL,
    address            text,
    purpose            varchar(16) NOT NULL DEFAULT 'publish',
    status             varchar(16) NOT NULL DEFAULT 'available',
    reserved_at        timestamp,
    reserved_until     timestamp,
    reserved_by_job_id uuid,
    spent_at           timestamp,
    spent_by_txid      varchar(64)
);
INSERT INTO utxos (txid, vout, satoshis, script_pub_key)
VALUES ('efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef', 3, 100, '76a914');
CREATE TABLE nonces (pubkey_hex text NOT NULL, nonce text NOT NULL, record_id text,
                     seen_at timestamp DEFAULT now(), UNIQUE (pubkey_hex, nonce));
CREATE TABLE registered_keys (id serial PRIMARY KEY, pubkey_hex text NOT NULL UNIQUE,
                              status text NOT NULL DEFAULT 'active', policy_json json);
INSERT INTO registered_keys (pubkey_hex) VALUES ('02abcd');
CREATE TABLE audit_log (id serial PRIMARY KEY, ts timestamp DEFAULT now(), kind text, payload json);
INSERT INTO audit_log (kind, payload) VALUES ('publish', '{"job":1}');
CREATE TABLE publish_batches (id serial PRIMARY KEY, batch_id text UNIQUE, size int,
                              created_at timestamp DEFAULT now());
)SQL";

TEST_F(PgMigrations, UpgradesTheOldServiceSchemaKeepingItsRows) {
    Connection c = connect(fresh_database());
    Result seed = c.exec(k_old_schema);
    ASSERT_TRUE(seed.ok()) << seed.error();

    MigrationReport report;
    Status st = migrate(c, &report);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_THAT(report.applied, ElementsAre(1, 2, 3, 4, 5, 6));

    // The old row is untouched: same values, same status, old types kept.
    Result job = c.exec(
        "SELECT job_id, status, txid, created_at::text, record_id, sending_started_at IS NULL, "
        "updated_at IS NULL, signed_tx IS NULL, attempts FROM publish_jobs");
    ASSERT_TRUE(job.ok()) << job.error();
    ASSERT_EQ(job.rows(), 1);
    EXPECT_EQ(job.text(0, 0), "1b4e28ba-2fa1-4d3b-883f-0016d3cca427");
    EXPECT_EQ(job.text(0, 1), "sent");
    std::string old_txid;
    for (int i = 0; i < 32; ++i)
        old_txid += "cd";
    EXPECT_EQ(job.text(0, 2), old_txid);
    EXPECT_EQ(job.text(0, 3), "2025-01-02 03:04:05");
    EXPECT_EQ(job.text(0, 4), "rec-1");
    EXPECT_EQ(job.text(0, 5), "t");  // added by migration 1
    EXPECT_EQ(job.text(0, 6), "t");  // added, no default applied to old rows
    EXPECT_EQ(job.text(0, 7), "t");
    EXPECT_EQ(job.int64(0, 8), 0);

    const auto jobs = columns_of(c, "publish_jobs");
    EXPECT_EQ(jobs.at("job_id"), "uuid");
    EXPECT_EQ(jobs.at("record_id"), "character varying");
    EXPECT_EQ(jobs.at("created_at"), "timestamp without time zone");
    EXPECT_EQ(jobs.at("updated_at"), "timestamp with time zone");
    EXPECT_EQ(jobs.at("signed_tx"), "bytea");
    EXPECT_TRUE(jobs.count("id"));

    Result utxo = c.exec("SELECT satoshis, status, dirty, leased_by IS NULL FROM utxos");
    ASSERT_TRUE(utxo.ok()) << utxo.error();
    ASSERT_EQ(utxo.rows(), 1);
    EXPECT_EQ(utxo.int64(0, 0), 100);
    EXPECT_EQ(utxo.text(0, 1), "available");
    EXPECT_EQ(utxo.text(0, 2), "f");
    EXPECT_EQ(utxo.text(0, 3), "t");

    Result audit = c.exec("SELECT kind, payload::text, event IS NULL FROM audit_log");
    ASSERT_TRUE(audit.ok()) << audit.error();
    EXPECT_EQ(audit.text(0, 0), "publish");
    EXPECT_EQ(audit.text(0, 1), "{\"job\":1}");
    EXPECT_EQ(audit.text(0, 2), "t");
    EXPECT_EQ(c.exec("SELECT count(*) FROM registered_keys").int64(0, 0), 1);

    // Uniqueness the engine relies on: kept where it was (not doubled), added where missing.
    Result uniques = c.exec(R"SQL(
        SELECT count(*) FROM pg_index i
         WHERE i.indrelid = 'publish_jobs'::regclass AND i.indisunique AND i.indnatts = 1
           AND i.indkey[0] = (SELECT attnum FROM pg_attribute
                               WHERE attrelid = 'publish_jobs'::regclass
                                 AND attname = 'record_hash'))SQL");
    ASSERT_TRUE(uniques.ok()) << uniques.error();
    EXPECT_EQ(uniques.int64(0, 0), 1);
    Result dup = c.exec(
        "INSERT INTO utxos (txid, vout, satoshis, script_pub_key) VALUES "
        "('efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef', 3, 100, '76a914')");
    EXPECT_EQ(dup.sqlstate(), "23505") << dup.error();

    // The old service's own insert still works, and so does an engine-style
    // upsert with untyped text parameters into the uuid column.
    Result old_insert = c.exec(
        "INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash) VALUES "
        "('2b4e28ba-2fa1-4d3b-883f-0016d3cca427', 'rec-2', '{}', '" +
        k_hash_a + "')");
    EXPECT_TRUE(old_insert.ok()) << old_insert.error();
    Result upsert = c.exec_params(
        "INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, status, "
        "created_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', now(), now()) "
        "ON CONFLICT (job_id) DO NOTHING",
        "3b4e28ba-2fa1-4d3b-883f-0016d3cca427", "rec-3", "{}", k_hash_b);
    EXPECT_TRUE(upsert.ok()) << upsert.error();
    EXPECT_EQ(upsert.affected_rows(), 1u);

    // And migrating again changes nothing.
    MigrationReport again;
    ASSERT_TRUE(migrate(c, &again).ok());
    EXPECT_TRUE(again.applied.empty());
}

TEST_F(PgMigrations, SchemaEnforcesTheEngineInvariants) {
    Connection c = connect(fresh_database());
    ASSERT_TRUE(migrate(c).ok());
    auto insert_job = [&](const std::string& id, const std::string& hash) {
        return c.exec_params(
            "INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash) "
            "VALUES ($1, 'r', '{}', $2)",
            id, hash);
    };
    ASSERT_TRUE(insert_job("job-1", k_hash_a).ok());
    ASSERT_TRUE(insert_job("job-2", k_hash_b).ok());
    EXPECT_EQ(insert_job("job-3", k_hash_a).sqlstate(), "23505");  // record_hash unique
    EXPECT_EQ(insert_job("job-4", "not-hex").sqlstate(), "23514");

    const std::vector<std::uint8_t> tx{0x01, 0x00, 0x00, 0x00};
    const char* sign =
        "UPDATE publish_jobs SET signed_tx = $1, spent_txid = $2, spent_vout = $3 WHERE job_id = "
        "$4";
    Result first = c.exec_params(sign, Binary{tx}, k_txid_1, 0, "job-1");
    ASSERT_TRUE(first.ok()) << first.error();
    // Invariant 4: one outpoint, one job.
    Result second = c.exec_params(sign, Binary{tx}, k_txid_1, 0, "job-2");
    EXPECT_EQ(second.sqlstate(), "23505") << second.error();
    EXPECT_TRUE(c.exec_params(sign, Binary{tx}, k_txid_1, 1, "job-2").ok());
    // Signed bytes and their outpoint go together.
    Result half =
        c.exec_params("UPDATE publish_jobs SET spent_txid = NULL WHERE job_id = $1", "job-1");
    EXPECT_EQ(half.sqlstate(), "23514") << half.error();
    // Only the service's job states.
    Result state =
        c.exec_params("UPDATE publish_jobs SET status = 'lost' WHERE job_id = $1", "job-1");
    EXPECT_EQ(state.sqlstate(), "23514") << state.error();
    for (const char* s :
         {"queued", "processing_batch", "sending", "sent", "failed", "retryable", "confirmed"}) {
        EXPECT_TRUE(
            c.exec_params("UPDATE publish_jobs SET status = $1 WHERE job_id = 'job-1'", s).ok())
            << s;
    }
    Result back = c.exec_params("SELECT signed_tx FROM publish_jobs WHERE job_id = $1", "job-1");
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(back.bytes(0, 0), tx);

    const char* utxo =
        "INSERT INTO utxos (txid, vout, satoshis, script_pub_key) VALUES ($1, $2, 100, '76a914')";
    EXPECT_TRUE(c.exec_params(utxo, k_txid_2, 4294967295u).ok());
    EXPECT_EQ(c.exec_params(utxo, k_txid_2, 4294967295u).sqlstate(), "23505");
    EXPECT_EQ(c.exec_params(utxo, k_txid_2, -1).sqlstate(), "23514");
}

TEST_F(PgMigrations, RefusesADatabaseNewerThanItKnows) {
    Connection c = connect(fresh_database());
    ASSERT_TRUE(migrate(c).ok());
    ASSERT_TRUE(
        c.exec("INSERT INTO raregen_schema_migrations (version, name) VALUES (99, 'future')").ok());
    MigrationReport report;
    Status st = migrate(c, &report);
    EXPECT_FALSE(st.ok());
    EXPECT_THAT(st.message(), HasSubstr("version 99"));
    EXPECT_THAT(st.message(), HasSubstr("upgrade raregen"));
    EXPECT_EQ(report.version_before, 99);
    EXPECT_TRUE(report.applied.empty());
}

TEST_F(PgMigrations, UnprivilegedUserIsToldWhatToGrant) {
    const std::string db = fresh_database();
    Connection admin = connect(db);
    Result role = admin.exec("DROP ROLE IF EXISTS mig_weak; CREATE ROLE mig_weak LOGIN");
    ASSERT_TRUE(role.ok()) << role.error();
    Connection weak = connect(db + " user=mig_weak");

    // PostgreSQL 15 gives PUBLIC no CREATE on schema public.
    Status st = migrate(weak);
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(st.sqlstate(), "42501");
    EXPECT_THAT(st.message(), HasSubstr("grant it CREATE on the schema"));

    // Allowed to create, but the old service's table belongs to someone else.
    ASSERT_TRUE(admin
                    .exec("GRANT CREATE ON SCHEMA public TO mig_weak; "
                          "CREATE TABLE publish_jobs (job_id text PRIMARY KEY)")
                    .ok());
    st = migrate(weak);
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(st.sqlstate(), "42501");
    EXPECT_THAT(st.message(), HasSubstr("migration 1 (raregen_service_tables) failed"));
    EXPECT_THAT(st.message(), HasSubstr("ownership of the RareGen tables"));
    EXPECT_THAT(recorded_versions(admin), ::testing::IsEmpty());
}

TEST_F(PgMigrations, FailedMigrationRollsBackAndKeepsEarlierOnes) {
    Connection c = connect(fresh_database());
    const Migration broken[] = {
        {1, "make_a", "CREATE TABLE a (x int)"},
        {2, "broken", "CREATE TABLE b (x int); SELECT no_such_function()"},
    };
    MigrationReport report;
    Status st = migrate(c, broken, &report);
    EXPECT_FALSE(st.ok());
    EXPECT_THAT(st.message(), HasSubstr("migration 2 (broken) failed and was rolled back"));
    EXPECT_THAT(st.message(), HasSubstr("no_such_function"));
    EXPECT_EQ(st.sqlstate(), "42883");
    EXPECT_THAT(report.applied, ElementsAre(1));
    EXPECT_THAT(recorded_versions(c), ElementsAre(1));
    EXPECT_TRUE(c.exec("SELECT * FROM a").ok());
    EXPECT_EQ(c.exec("SELECT * FROM b").sqlstate(), "42P01");

    const Migration fixed[] = {
        {1, "make_a", "CREATE TABLE a (x int)"},
        {2, "make_b", "CREATE TABLE b (x int)"},
    };
    ASSERT_TRUE(migrate(c, fixed, &report).ok());
    EXPECT_THAT(report.applied, ElementsAre(2));
    EXPECT_TRUE(c.exec("SELECT * FROM b").ok());

    const Migration unordered[] = {{2, "x", "SELECT 1"}, {1, "y", "SELECT 1"}};
    EXPECT_THAT(migrate(c, unordered).message(), HasSubstr("not strictly increasing"));
}

}  // namespace
}  // namespace raregen::pg
