#include "storage/pg/migrations.h"

#include <array>
#include <string>

namespace raregen::pg {
namespace {

// ---- 1: the RareGen service's tables (docs/protocol.md §6) --------------------------
//
// Fresh tables get keys and CHECKs; a table that already exists is left as it
// is, except that columns §6 lists and it lacks are added (nullable, no
// default: a default 'queued' status, say, would hand old rows to the engine).
constexpr const char* k_migration_1 = R"SQL(
CREATE TABLE IF NOT EXISTS publish_jobs (
    job_id              text PRIMARY KEY,
    record_id           text NOT NULL,
    record_canonical    text NOT NULL,
    record_hash         text NOT NULL UNIQUE
                        CONSTRAINT publish_jobs_record_hash_check CHECK (record_hash ~ '^[0-9a-f]{64}$'),
    cdn_url             text,
    file_sha256         text,
    status              text NOT NULL DEFAULT 'queued'
                        CONSTRAINT publish_jobs_status_check CHECK (status IN
                            ('queued', 'processing_batch', 'sending', 'sent', 'failed',
                             'retryable', 'confirmed')),
    txid                text
                        CONSTRAINT publish_jobs_txid_check CHECK (txid ~ '^[0-9a-f]{64}$'),
    error_code          text,
    error_detail        text,
    processing_batch_id text,
    batch_seq           integer CONSTRAINT publish_jobs_batch_seq_check CHECK (batch_seq >= 1),
    sending_started_at  timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    confirmed_at        timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE publish_jobs
    ADD COLUMN IF NOT EXISTS job_id              text,
    ADD COLUMN IF NOT EXISTS record_id           text,
    ADD COLUMN IF NOT EXISTS record_canonical    text,
    ADD COLUMN IF NOT EXISTS record_hash         text,
    ADD COLUMN IF NOT EXISTS cdn_url             text,
    ADD COLUMN IF NOT EXISTS file_sha256         text,
    ADD COLUMN IF NOT EXISTS status              text,
    ADD COLUMN IF NOT EXISTS txid                text,
    ADD COLUMN IF NOT EXISTS error_code          text,
    ADD COLUMN IF NOT EXISTS error_detail        text,
    ADD COLUMN IF NOT EXISTS processing_batch_id text,
    ADD COLUMN IF NOT EXISTS batch_seq           integer,
    ADD COLUMN IF NOT EXISTS sending_started_at  timestamptz,
    ADD COLUMN IF NOT EXISTS created_at          timestamptz,
    ADD COLUMN IF NOT EXISTS sent_at             timestamptz,
    ADD COLUMN IF NOT EXISTS confirmed_at        timestamptz,
    ADD COLUMN IF NOT EXISTS updated_at          timestamptz;

CREATE TABLE IF NOT EXISTS utxos (
    txid               text NOT NULL CONSTRAINT utxos_txid_check CHECK (txid ~ '^[0-9a-f]{64}$'),
    vout               bigint NOT NULL CONSTRAINT utxos_vout_check CHECK (vout BETWEEN 0 AND 4294967295),
    satoshis           bigint NOT NULL CONSTRAINT utxos_satoshis_check CHECK (satoshis >= 0),
    script_pub_key     text NOT NULL,
    address            text,
    purpose            text NOT NULL DEFAULT 'publish'
                       CONSTRAINT utxos_purpose_check CHECK (purpose IN ('publish', 'funding', 'change')),
    status             text NOT NULL DEFAULT 'available'
                       CONSTRAINT utxos_status_check CHECK (status IN ('available', 'reserved', 'spent')),
    reserved_at        timestamptz,
    reserved_until     timestamptz,
    reserved_by_job_id text,
    spent_at           timestamptz,
    spent_by_txid      text,
    dirty              boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (txid, vout)
);
ALTER TABLE utxos
    ADD COLUMN IF NOT EXISTS txid               text,
    ADD COLUMN IF NOT EXISTS vout               bigint,
    ADD COLUMN IF NOT EXISTS satoshis           bigint,
    ADD COLUMN IF NOT EXISTS script_pub_key     text,
    ADD COLUMN IF NOT EXISTS address            text,
    ADD COLUMN IF NOT EXISTS purpose            text,
    ADD COLUMN IF NOT EXISTS status             text,
    ADD COLUMN IF NOT EXISTS reserved_at        timestamptz,
    ADD COLUMN IF NOT EXISTS reserved_until     timestamptz,
    ADD COLUMN IF NOT EXISTS reserved_by_job_id text,
    ADD COLUMN IF NOT EXISTS spent_at           timestamptz,
    ADD COLUMN IF NOT EXISTS spent_by_txid      text,
    ADD COLUMN IF NOT EXISTS dirty              boolean DEFAULT false;

CREATE TABLE IF NOT EXISTS nonces (
    pubkey_hex text NOT NULL,
    nonce      text NOT NULL,
    record_id  text,
    seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pubkey_hex, nonce)
);
ALTER TABLE nonces
    ADD COLUMN IF NOT EXISTS pubkey_hex text,
    ADD COLUMN IF NOT EXISTS nonce      text,
    ADD COLUMN IF NOT EXISTS record_id  text,
    ADD COLUMN IF NOT EXISTS seen_at    timestamptz;

CREATE TABLE IF NOT EXISTS registered_keys (
    pubkey_hex  text PRIMARY KEY,
    status      text NOT NULL DEFAULT 'active',
    policy_json jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE registered_keys
    ADD COLUMN IF NOT EXISTS pubkey_hex  text,
    ADD COLUMN IF NOT EXISTS status      text,
    ADD COLUMN IF NOT EXISTS policy_json jsonb;

CREATE TABLE IF NOT EXISTS audit_log (
    id         bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    event      text NOT NULL,
    actor      text,
    job_id     text,
    record_id  text,
    detail     jsonb
);
ALTER TABLE audit_log
    ADD COLUMN IF NOT EXISTS created_at timestamptz DEFAULT now(),
    ADD COLUMN IF NOT EXISTS event      text,
    ADD COLUMN IF NOT EXISTS actor      text,
    ADD COLUMN IF NOT EXISTS job_id     text,
    ADD COLUMN IF NOT EXISTS record_id  text,
    ADD COLUMN IF NOT EXISTS detail     jsonb;

CREATE TABLE IF NOT EXISTS publish_batches (
    batch_id     text PRIMARY KEY,
    job_count    integer NOT NULL DEFAULT 0,
    status       text NOT NULL DEFAULT 'processing',
    created_at   timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz,
    completed_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE publish_batches
    ADD COLUMN IF NOT EXISTS batch_id     text,
    ADD COLUMN IF NOT EXISTS job_count    integer,
    ADD COLUMN IF NOT EXISTS status       text,
    ADD COLUMN IF NOT EXISTS created_at   timestamptz,
    ADD COLUMN IF NOT EXISTS closed_at    timestamptz,
    ADD COLUMN IF NOT EXISTS completed_at timestamptz,
    ADD COLUMN IF NOT EXISTS updated_at   timestamptz;
)SQL";

// ---- 2: what exactly-once publication needs ------------------------------------
constexpr const char* k_migration_2 = R"SQL(
-- Unique keys that ON CONFLICT clauses and lookups rely on. Fresh tables
-- have them as primary keys; an older database may not. Created only when no
-- plain unique index on exactly these columns exists (so none is doubled).
DO $$
DECLARE
    want record;
BEGIN
    FOR want IN
        SELECT * FROM (VALUES
            ('publish_jobs'::text,  ARRAY['job_id']::text[],             'raregen_publish_jobs_job_id_key'::text),
            ('publish_jobs',        ARRAY['record_hash'],                'raregen_publish_jobs_record_hash_key'),
            ('utxos',               ARRAY['txid', 'vout'],               'raregen_utxos_outpoint_key'),
            ('nonces',              ARRAY['pubkey_hex', 'nonce'],        'raregen_nonces_key'),
            ('registered_keys',     ARRAY['pubkey_hex'],                 'raregen_registered_keys_key'),
            ('publish_batches',     ARRAY['batch_id'],                   'raregen_publish_batches_key')
        ) AS w(tbl, cols, idx)
    LOOP
        IF NOT EXISTS (
            SELECT 1
              FROM pg_index i
             WHERE i.indrelid = to_regclass(want.tbl)
               AND i.indisunique AND i.indisvalid
               AND i.indpred IS NULL AND i.indexprs IS NULL
               AND i.indnatts = cardinality(want.cols)
               AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
                      FROM pg_attribute a
                     WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[]))
                   = (SELECT array_agg(c ORDER BY c) FROM unnest(want.cols) AS c)
        ) THEN
            EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (%s)', want.idx, want.tbl,
                           (SELECT string_agg(quote_ident(c), ', ') FROM unnest(want.cols) AS c));
        END IF;
    END LOOP;
END
$$;

ALTER TABLE publish_jobs
    ADD COLUMN IF NOT EXISTS intake_seq  bigint,
    ADD COLUMN IF NOT EXISTS instance_id text,
    ADD COLUMN IF NOT EXISTS signed_tx   bytea,
    ADD COLUMN IF NOT EXISTS ef_tx       bytea,
    ADD COLUMN IF NOT EXISTS spent_txid  text,
    ADD COLUMN IF NOT EXISTS spent_vout  bigint,
    ADD COLUMN IF NOT EXISTS signed_at   timestamptz,
    ADD COLUMN IF NOT EXISTS attempts    integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS arc_status  text;
COMMENT ON COLUMN publish_jobs.intake_seq IS 'raregen: intake order within the accepting instance';
COMMENT ON COLUMN publish_jobs.instance_id IS 'raregen: engine instance that owns the job (raregen_instances)';
COMMENT ON COLUMN publish_jobs.signed_tx IS 'raregen: the signed transaction, standard serialization; durable before broadcast, rebroadcast as is';
COMMENT ON COLUMN publish_jobs.ef_tx IS 'raregen: the same transaction in Extended Format (what ARC is sent), if stored';
COMMENT ON COLUMN publish_jobs.spent_txid IS 'raregen: outpoint (txid, display hex) the signed transaction spends';
COMMENT ON COLUMN publish_jobs.spent_vout IS 'raregen: outpoint index the signed transaction spends';
COMMENT ON COLUMN publish_jobs.attempts IS 'raregen: broadcasts of signed_tx so far';
COMMENT ON COLUMN publish_jobs.arc_status IS 'raregen: last txStatus ARC reported';

-- Signed bytes and the outpoint they spend are written together (the fence
-- holds a transaction until both are durable), and cleared together if the
-- network definitively refuses it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conrelid = 'publish_jobs'::regclass
                      AND conname = 'publish_jobs_signed_spend_check') THEN
        ALTER TABLE publish_jobs ADD CONSTRAINT publish_jobs_signed_spend_check
            CHECK ((signed_tx IS NULL) = (spent_txid IS NULL)
                   AND (spent_txid IS NULL) = (spent_vout IS NULL));
    END IF;
END
$$;

-- A UTXO is spent by at most one job's signed transaction.
CREATE UNIQUE INDEX IF NOT EXISTS publish_jobs_spent_outpoint_key
    ON publish_jobs (spent_txid, spent_vout) WHERE spent_txid IS NOT NULL;
-- Claiming and recovering unfinished jobs (FOR UPDATE SKIP LOCKED by status).
CREATE INDEX IF NOT EXISTS publish_jobs_active_idx
    ON publish_jobs (status, created_at)
    WHERE status IN ('queued', 'processing_batch', 'sending', 'retryable');
-- ARC callbacks and status answers name the txid.
CREATE INDEX IF NOT EXISTS publish_jobs_txid_idx ON publish_jobs (txid) WHERE txid IS NOT NULL;
-- GET /v1/record/:recordId answers with the record's latest job.
CREATE INDEX IF NOT EXISTS publish_jobs_record_idx ON publish_jobs (record_id, created_at);
CREATE INDEX IF NOT EXISTS publish_jobs_batch_idx
    ON publish_jobs (processing_batch_id, batch_seq) WHERE processing_batch_id IS NOT NULL;

ALTER TABLE utxos
    ADD COLUMN IF NOT EXISTS leased_by   text,
    ADD COLUMN IF NOT EXISTS lease_until timestamptz;
COMMENT ON COLUMN utxos.leased_by IS 'raregen: engine instance whose in-memory ring holds this UTXO';
COMMENT ON COLUMN utxos.lease_until IS 'raregen: the lease ends then unless renewed (by heartbeat)';
CREATE INDEX IF NOT EXISTS utxos_purpose_status_idx ON utxos (purpose, status);
CREATE INDEX IF NOT EXISTS utxos_leased_by_idx ON utxos (leased_by) WHERE leased_by IS NOT NULL;

ALTER TABLE publish_batches ADD COLUMN IF NOT EXISTS instance_id text;

CREATE TABLE IF NOT EXISTS raregen_instances (
    instance_id  text PRIMARY KEY,
    hostname     text,
    pid          integer,
    version      text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at   timestamptz
);
COMMENT ON TABLE raregen_instances IS
    'raregen: engine processes sharing this database; a stale heartbeat frees their UTXO leases and jobs';

-- The shared rate gate: one row per gate. Instances lease blocks of tokens
-- under SELECT ... FOR UPDATE; the row keeps the grants of the last period as
-- a sliding-window log (a block returns period_ms after it was granted, as in
-- stages/gate/token_bucket.h), so all instances together never exceed
-- capacity in any window of period_ms.
CREATE TABLE IF NOT EXISTS raregen_rate_tokens (
    gate        text PRIMARY KEY,
    capacity    bigint NOT NULL CONSTRAINT raregen_rate_tokens_capacity_check CHECK (capacity > 0),
    period_ms   bigint NOT NULL CONSTRAINT raregen_rate_tokens_period_check CHECK (period_ms > 0),
    grant_at    timestamptz[] NOT NULL DEFAULT '{}',
    grant_count bigint[] NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT raregen_rate_tokens_log_check
        CHECK (cardinality(grant_at) = cardinality(grant_count))
);
-- The seed's MAX_TX_PER_3S = 500; an engine configured otherwise updates it.
INSERT INTO raregen_rate_tokens (gate, capacity, period_ms)
VALUES ('publish', 500, 3000)
ON CONFLICT (gate) DO NOTHING;
)SQL";

// Outcome updates in place. Postgres rewrites a row in place (HOT: no new
// index entries) only if the update changes no indexed column and the page
// has room. The engine's hottest update, a job's outcome (sending, sent,
// failed), changes `status`; so no index may mention status. Claiming unowned
// queued rows goes through an index of unowned rows instead (in a database
// the old service used, its own status indexes serve that query), adoption
// through an index on the owner. Pages are filled half, leaving room for the
// new versions of their rows.
constexpr const char* k_migration_3 = R"SQL(
DROP INDEX IF EXISTS publish_jobs_active_idx;
DROP INDEX IF EXISTS publish_jobs_batch_idx;
CREATE INDEX IF NOT EXISTS publish_jobs_unowned_idx
    ON publish_jobs (created_at) WHERE instance_id IS NULL;
CREATE INDEX IF NOT EXISTS publish_jobs_owner_idx
    ON publish_jobs (instance_id) WHERE instance_id IS NOT NULL;
ALTER TABLE publish_jobs SET (fillfactor = 50);
)SQL";

// The old service's own audit_log names its event `event_type` (NOT NULL);
// raregen writes both columns, so the table takes rows from either writer.
// The claim pass no longer tags the old service's rows (they are history:
// never rewritten); the index that tag fed is left as it is.
constexpr const char* k_migration_4 = R"SQL(
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS event_type text;
)SQL";

// The replenisher's split transactions (storage/pool/split_store.h): each
// one's signed bytes are written, and its funding output marked spent by it,
// before it is sent; its outputs reach `utxos` only once ARC has accepted
// it. A funding output is spent by at most one split that was not refused.
constexpr const char* k_migration_5 = R"SQL(
CREATE TABLE IF NOT EXISTS raregen_splits (
    txid             text PRIMARY KEY CONSTRAINT raregen_splits_txid_check CHECK (txid ~ '^[0-9a-f]{64}$'),
    funding_txid     text NOT NULL,
    funding_vout     bigint NOT NULL,
    funding_satoshis bigint NOT NULL,
    outputs          integer NOT NULL CONSTRAINT raregen_splits_outputs_check CHECK (outputs > 0),
    each_satoshis    bigint NOT NULL,
    change_satoshis  bigint NOT NULL,
    fee              bigint NOT NULL,
    raw_tx           bytea NOT NULL,
    status           text NOT NULL DEFAULT 'signed'
                     CONSTRAINT raregen_splits_status_check CHECK (status IN ('signed', 'accepted', 'refused')),
    detail           text,
    instance_id      text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT raregen_splits_balance_check
        CHECK (outputs * each_satoshis + change_satoshis + fee = funding_satoshis)
);
COMMENT ON TABLE raregen_splits IS
    'raregen: split transactions of the replenisher, recorded before they are sent';
CREATE UNIQUE INDEX IF NOT EXISTS raregen_splits_funding_key
    ON raregen_splits (funding_txid, funding_vout) WHERE status <> 'refused';
CREATE INDEX IF NOT EXISTS raregen_splits_signed_idx
    ON raregen_splits (created_at) WHERE status = 'signed';
)SQL";

// The shared rate gate's leases (storage/rate/rate_leases.h): an engine
// takes tokens of the `raregen_rate_tokens` row in slices, uses them, and
// settles each slice once the network has answered for every token it used;
// a slice counts against the capacity until one period after it settled.
// The row's own grant log (migration 2) is not used.
constexpr const char* k_migration_6 = R"SQL(
CREATE TABLE IF NOT EXISTS raregen_rate_leases (
    lease_id    bigserial PRIMARY KEY,
    gate        text NOT NULL REFERENCES raregen_rate_tokens (gate),
    instance_id text NOT NULL,
    tokens      integer NOT NULL CONSTRAINT raregen_rate_leases_tokens_check CHECK (tokens > 0),
    granted_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    settled_at  timestamptz
);
COMMENT ON TABLE raregen_rate_leases IS
    'raregen: slices of the shared rate limit held by engines; a slice counts until one period after it settled';
CREATE INDEX IF NOT EXISTS raregen_rate_leases_gate_idx ON raregen_rate_leases (gate);
)SQL";

constexpr std::array<Migration, 6> k_builtin{{
    {1, "raregen_service_tables", k_migration_1},
    {2, "exactly_once", k_migration_2},
    {3, "outcomes_in_place", k_migration_3},
    {4, "old_service_audit_log", k_migration_4},
    {5, "replenisher_splits", k_migration_5},
    {6, "shared_rate_leases", k_migration_6},
}};

// Every migration transaction starts with this: a bounded wait for table
// locks, quiet NOTICEs, and the advisory lock that serializes engines.
Status prologue(Connection& c) {
    const std::string sql = std::string("SET LOCAL lock_timeout = '") + k_migration_lock_timeout +
                            "'; SET LOCAL client_min_messages = warning; "
                            "SELECT pg_advisory_xact_lock(" +
                            std::to_string(k_migration_lock_key) + ")";
    Result r = c.exec(sql);
    if (!r.ok()) {
        return Status::failure("could not take the migration lock: " + r.error(),
                               std::string(r.sqlstate()));
    }
    return Status::success();
}

Status explain(const Migration& m, const Status& st) {
    std::string msg = "migration " + std::to_string(m.version) + " (" + m.name +
                      ") failed and was rolled back: " + st.message();
    if (st.sqlstate() == "55P03") {  // lock_not_available
        msg += ". Another client (the old RareGen service?) held a table lock longer than " +
               std::string(k_migration_lock_timeout) + ": stop it or retry when it is idle";
    } else if (st.sqlstate() == "42501") {  // insufficient_privilege
        msg +=
            ". The database user may not create or alter these tables: run raregen once as "
            "the tables' owner (or a superuser), or grant it CREATE on the schema and "
            "ownership of the RareGen tables";
    } else if (st.sqlstate() == "23505") {  // unique_violation
        msg +=
            ". Existing rows break a uniqueness the engine relies on: remove the duplicates "
            "named above, then start again";
    }
    return Status::failure(std::move(msg), st.sqlstate());
}

}  // namespace

std::span<const Migration> builtin_migrations() {
    return k_builtin;
}

Status migrate(Connection& conn, MigrationReport* report) {
    return migrate(conn, builtin_migrations(), report);
}

Status migrate(Connection& conn, std::span<const Migration> migrations, MigrationReport* report) {
    MigrationReport local;
    MigrationReport& rep = report != nullptr ? *report : local;
    rep = MigrationReport{};

    int last = 0;
    for (const Migration& m : migrations) {
        if (m.version <= last) {
            return Status::failure("migration list is not strictly increasing at version " +
                                   std::to_string(m.version) + " (a bug in raregen)");
        }
        last = m.version;
    }

    // The bookkeeping table, and where the database stands.
    Status st = conn.transaction([&](Connection& c) {
        if (Status p = prologue(c); !p.ok()) return p;
        Result r = c.exec(R"SQL(
            CREATE TABLE IF NOT EXISTS raregen_schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            SELECT coalesce(max(version), 0) FROM raregen_schema_migrations)SQL");
        if (!r.ok()) {
            Status failed = Status::failure("could not read the schema version: " + r.error(),
                                            std::string(r.sqlstate()));
            if (failed.sqlstate() == "42501") {
                return Status::failure(failed.message() +
                                           ". The database user may not create tables in this "
                                           "schema: grant it CREATE on the schema, or run "
                                           "raregen once as the schema's owner",
                                       failed.sqlstate());
            }
            return failed;
        }
        rep.version_before = static_cast<int>(r.int64(0, 0).value_or(0));
        return Status::success();
    });
    if (!st.ok()) return st;
    rep.version_after = rep.version_before;
    if (rep.version_before > last) {
        return Status::failure("the database's schema is at version " +
                               std::to_string(rep.version_before) +
                               ", newer than this raregen knows (" + std::to_string(last) +
                               "): upgrade raregen, or point it at another database");
    }

    for (const Migration& m : migrations) {
        bool applied = false;
        st = conn.transaction([&](Connection& c) {
            if (Status p = prologue(c); !p.ok()) return p;
            // Re-checked under the lock: another engine may have just applied it.
            Result seen = c.exec_params(
                "SELECT 1 FROM raregen_schema_migrations WHERE version = $1", m.version);
            if (!seen.ok()) return seen.status();
            if (seen.rows() > 0) return Status::success();
            if (Result r = c.exec(m.sql); !r.ok()) return explain(m, r.status());
            Result rec = c.exec_params(
                "INSERT INTO raregen_schema_migrations (version, name) VALUES ($1, $2)", m.version,
                m.name);
            if (!rec.ok()) return explain(m, rec.status());
            applied = true;
            return Status::success();
        });
        if (!st.ok()) return st;
        if (applied) {
            rep.applied.push_back(m.version);
            rep.version_after = m.version;
        } else if (m.version > rep.version_after) {
            rep.version_after = m.version;
        }
    }
    return Status::success();
}

}  // namespace raregen::pg
