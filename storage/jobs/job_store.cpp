#include "storage/jobs/job_store.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <stdexcept>

#include "engine/chain/bytes.h"
#include "engine/chain/tx.h"

namespace raregen::jobs {

namespace {

constexpr const char* k_row_columns =
    "job_id, record_id, record_hash, processing_batch_id, batch_seq, txid, signed_tx, ef_tx, "
    "spent_txid, spent_vout, intake_seq";

// Fills `r` from one row selected with k_row_columns; false with `why` if it
// cannot be resumed.
bool job_from_row(const pg::Result& res, int row, ResumedJob& r, std::string& why) {
    const auto id = model::JobId::from_stored(res.text(row, 0));
    if (!id) {
        why =
            "job_id is empty or longer than " + std::to_string(model::JobId::k_max_text) + " bytes";
        return false;
    }
    r.job = model::Job{};
    r.job.job_id = *id;
    const std::string_view record_id = res.text(row, 1);
    if (record_id.size() > model::k_max_record_id) {
        why = "record_id is longer than the engine accepts";
        return false;
    }
    r.job.record_id.assign(record_id);
    const auto hash = chain::from_hex_fixed<32>(res.text(row, 2));
    if (!hash) {
        why = "record_hash is not 64 hex digits";
        return false;
    }
    r.job.record_hash = *hash;
    r.job.intake_seq = static_cast<std::uint64_t>(res.int64(row, 10).value_or(0));
    r.batch_id = res.is_null(row, 3) ? std::string() : std::string(res.text(row, 3));
    const bool batched = !res.is_null(row, 3) && !res.is_null(row, 4);
    if (batched) r.job.batch_seq = static_cast<std::uint32_t>(res.int64(row, 4).value_or(0));
    if (!res.is_null(row, 6)) {
        // Signed: resend the stored bytes.
        const auto txid = chain::from_hex_fixed<32>(res.text(row, 5));
        const auto spent = chain::from_hex_fixed<32>(res.text(row, 8));
        const auto raw = res.bytes(row, 6);
        if (!txid || !spent || !raw ||
            !r.job.raw.assign(chain::ByteSpan(raw->data(), raw->size()))) {
            why = "the stored transaction cannot be read back";
            return false;
        }
        std::reverse_copy(txid->begin(), txid->end(), r.job.txid.begin());
        std::reverse_copy(spent->begin(), spent->end(), r.job.utxo.outpoint.txid.begin());
        r.job.utxo.outpoint.vout = static_cast<std::uint32_t>(res.int64(row, 9).value_or(0));
        if (!res.is_null(row, 7)) {
            const auto ef = res.bytes(row, 7);
            if (!ef || !r.job.ef.assign(chain::ByteSpan(ef->data(), ef->size()))) {
                why = "the stored EF transaction cannot be read back";
                return false;
            }
            // The UTXO's value, which the EF carries: a re-sign after a fee
            // refusal (ARC 465) needs it.
            chain::Transaction tx;
            if (chain::parse_transaction(r.job.ef.span(), tx).ok() && tx.inputs.size() == 1 &&
                tx.inputs[0].prev)
                r.job.utxo.value = tx.inputs[0].prev->value;
        }
        r.route = Route::gate;
    } else if (batched) {
        r.route = Route::sign;
    } else {
        r.route = Route::sequence;
    }
    return true;
}

void sort_resume_order(std::vector<ResumedJob>& v, std::size_t from) {
    std::stable_sort(v.begin() + static_cast<long>(from), v.end(),
                     [](const ResumedJob& a, const ResumedJob& b) {
                         if (a.route != b.route) return a.route > b.route;  // gate, sign, sequence
                         if (a.batch_id != b.batch_id) return a.batch_id < b.batch_id;
                         if (a.job.batch_seq != b.job.batch_seq)
                             return a.job.batch_seq < b.job.batch_seq;
                         return a.job.intake_seq < b.job.intake_seq;
                     });
}

pg::Status fail_rows(pg::Connection& conn,
                     const std::vector<std::pair<std::string, std::string>>& bad) {
    for (const auto& [job_id, why] : bad) {
        pg::Result r = conn.exec_params(
            "UPDATE publish_jobs SET status = 'failed', error_code = 'unresumable', "
            "error_detail = $2, updated_at = now() WHERE job_id = $1",
            job_id, why);
        if (!r.ok()) return r.status();
    }
    return pg::Status::success();
}

}  // namespace

std::string new_instance_id() {
    std::array<unsigned char, 8> b{};
    std::ifstream urandom("/dev/urandom", std::ios::binary);
    if (!urandom.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size())))
        throw std::runtime_error("cannot read /dev/urandom for an instance id");
    return "i-" + chain::to_hex(chain::ByteSpan(b.data(), b.size()));
}

namespace {
// Takes the liveness lock on `c`; an error message, empty on success.
std::string take_lock(pg::Connection& c, const std::string& id) {
    pg::Result r = c.exec_params("SELECT pg_try_advisory_lock($1, hashtext($2))",
                                 static_cast<std::int64_t>(k_instance_lock_class), id);
    if (!r.ok()) return r.error();
    if (r.rows() != 1 || r.text(0, 0) != "t") return "held by another session";
    return {};
}
}  // namespace

InstanceLease::InstanceLease(const std::string& conninfo, std::string instance_id,
                             std::chrono::milliseconds heartbeat)
    : m_id(std::move(instance_id)), m_conninfo(conninfo), m_heartbeat(heartbeat) {
    m_conn = std::make_unique<pg::Connection>(pg::Connection::connect(conninfo));
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    pg::Result r = m_conn->exec_params(
        "INSERT INTO raregen_instances (instance_id, hostname, pid, version) VALUES ($1, $2, $3, "
        "'raregen') ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = now(), stopped_at = "
        "NULL",
        m_id, std::string(host), static_cast<std::int64_t>(::getpid()));
    if (!r.ok()) throw std::runtime_error("cannot register this engine instance: " + r.error());
    if (std::string e = take_lock(*m_conn, m_id); !e.empty())
        throw std::runtime_error("cannot take this instance's liveness lock: " + e);
    m_thread = std::thread([this] { beat(); });
}

void InstanceLease::beat() {
    std::unique_lock lock(m_mu);
    while (!m_cv.wait_for(lock, m_heartbeat, [&] { return m_quit; })) {
        lock.unlock();
        if (!m_conn->ok() || !m_conn->exec("SELECT 1").ok()) {
            pg::Status error;
            std::optional<pg::Connection> c = pg::Connection::try_connect(m_conninfo, error);
            if (c && take_lock(*c, m_id).empty()) {
                m_conn = std::make_unique<pg::Connection>(std::move(*c));
                m_relocks.fetch_add(1);
            }
        }
        if (m_conn->ok())
            m_conn->exec_params(
                "UPDATE raregen_instances SET heartbeat_at = now() WHERE instance_id = $1", m_id);
        lock.lock();
    }
}

InstanceLease::~InstanceLease() {
    {
        std::lock_guard lock(m_mu);
        m_quit = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
    // Stopped for good only if it leaves nothing unfinished: jobs left
    // `sending` (no definite answer from ARC) keep the instance adoptable, so
    // the next engine looks them up by txid (its lock is free now).
    if (m_conn && m_conn->ok())
        m_conn->exec_params(
            "UPDATE raregen_instances SET heartbeat_at = now(), stopped_at = CASE WHEN EXISTS "
            "(SELECT 1 FROM publish_jobs WHERE instance_id = $1 AND status IN ('queued', "
            "'processing_batch', 'sending')) THEN NULL ELSE now() END WHERE instance_id = $1",
            m_id);
}

pg::Status find_dead_instances(pg::Connection& conn, const std::string& me,
                               std::vector<std::string>& dead) {
    // The lock taken to test a session is released at once; a transaction
    // scoped lock would do, but the xact form cannot be tested and dropped
    // per row. pg_try_advisory_lock + unlock in one statement per row.
    pg::Result r = conn.exec_params(
        "SELECT instance_id FROM raregen_instances WHERE stopped_at IS NULL AND instance_id <> $1 "
        "ORDER BY started_at",
        me);
    if (!r.ok()) return r.status();
    for (int i = 0; i < r.rows(); ++i) {
        const std::string id(r.text(i, 0));
        pg::Result t = conn.exec_params(
            "SELECT CASE WHEN pg_try_advisory_lock($1, hashtext($2)) "
            "THEN pg_advisory_unlock($1, hashtext($2)) ELSE false END",
            static_cast<std::int64_t>(k_instance_lock_class), id);
        if (!t.ok()) return t.status();
        if (t.text(0, 0) == "t") dead.push_back(id);
    }
    return pg::Status::success();
}

pg::Status adopt_jobs(pg::Connection& conn, const std::string& dead, const std::string& me,
                      std::vector<ResumedJob>& out) {
    const std::size_t from = out.size();
    std::vector<std::pair<std::string, std::string>> bad;
    pg::Status st = conn.transaction([&](pg::Connection& c) {
        // The dead engine's batches are final: nobody adds a job to them
        // again (its batched jobs keep their batch, the rest are batched
        // anew). A batch it did not live to close gets its publish_batches
        // row now, counting exactly the jobs that carry its id (durable
        // batched facts form a prefix 1..N of each batch: the write-behind
        // commits facts in order). One it closed keeps its own row.
        pg::Result closed = c.exec_params(R"SQL(
INSERT INTO publish_batches (batch_id, job_count, status, created_at, closed_at, updated_at,
                             instance_id)
SELECT j.processing_batch_id, count(*), 'closed', min(j.created_at), now(), now(), $1
  FROM publish_jobs j
 WHERE j.processing_batch_id IN (
        SELECT DISTINCT d.processing_batch_id FROM publish_jobs d
         WHERE d.instance_id = $1 AND d.processing_batch_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM publish_batches b
                            WHERE b.batch_id = d.processing_batch_id))
 GROUP BY j.processing_batch_id
ON CONFLICT (batch_id) DO NOTHING)SQL",
                                          dead);
        if (!closed.ok()) return closed.status();
        // Batched-but-unsigned jobs keep their batch; a job without a
        // complete batch assignment goes back to queued and is batched anew.
        const std::string sql =
            "UPDATE publish_jobs SET instance_id = $2, updated_at = now(), "
            "  status = CASE WHEN signed_tx IS NOT NULL THEN status "
            "                WHEN processing_batch_id IS NOT NULL AND batch_seq IS NOT NULL "
            "                THEN 'processing_batch' ELSE 'queued' END "
            "WHERE instance_id = $1 AND status IN ('queued', 'processing_batch', 'sending') "
            "RETURNING " +
            std::string(k_row_columns);
        pg::Result r = c.exec_params(sql, dead, me);
        if (!r.ok()) return r.status();
        for (int i = 0; i < r.rows(); ++i) {
            ResumedJob j;
            std::string why;
            if (job_from_row(r, i, j, why))
                out.push_back(std::move(j));
            else
                bad.emplace_back(std::string(r.text(i, 0)), why);
        }
        pg::Status f = fail_rows(c, bad);
        if (!f.ok()) return f;
        pg::Result s = c.exec_params(
            "UPDATE raregen_instances SET stopped_at = now() WHERE instance_id = $1", dead);
        if (!s.ok()) return s.status();
        return pg::Status::success();
    });
    if (!st.ok()) {
        out.resize(from);
        return st;
    }
    sort_resume_order(out, from);
    return st;
}

pg::Status claim_queued(pg::Connection& conn, const std::string& me, std::size_t limit,
                        std::vector<ResumedJob>& out) {
    const std::size_t from = out.size();
    std::vector<std::pair<std::string, std::string>> bad;
    pg::Status st = conn.transaction([&](pg::Connection& c) {
        // Rows nobody owns that are not queued (the old service's history, or
        // a batch it is working on) are never written: no tag, no updated_at.
        // In a database raregen made, unowned rows are the few another
        // process inserted (publish_jobs_unowned_idx); in one the old
        // service made, its own status indexes find the queued ones.
        const std::string sql =
            "UPDATE publish_jobs SET instance_id = $1, updated_at = now() "
            "WHERE job_id IN (SELECT job_id FROM publish_jobs "
            "                  WHERE status = 'queued' AND instance_id IS NULL "
            "                  ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED) "
            "RETURNING " +
            std::string(k_row_columns);
        pg::Result r = c.exec_params(sql, me, static_cast<std::int64_t>(limit));
        if (!r.ok()) return r.status();
        for (int i = 0; i < r.rows(); ++i) {
            ResumedJob j;
            std::string why;
            if (job_from_row(r, i, j, why)) {
                j.route = Route::sequence;
                out.push_back(std::move(j));
            } else {
                bad.emplace_back(std::string(r.text(i, 0)), why);
            }
        }
        return fail_rows(c, bad);
    });
    if (!st.ok()) {
        out.resize(from);
        return st;
    }
    sort_resume_order(out, from);
    return st;
}

namespace {
// The old service's rows: no raregen owner, or the tag 'legacy' an earlier
// raregen's claim pass gave them.
constexpr const char* k_legacy_owner = "(instance_id IS NULL OR instance_id = 'legacy')";

// Rows it may have broadcast: 'sending' (its batch worker), 'processing'
// (named by its claim index), or any waiting row that has a txid.
constexpr const char* k_legacy_sending_sql = R"SQL(
SELECT job_id, record_id, status, coalesce(txid, ''), coalesce(processing_batch_id, ''),
       coalesce(sending_started_at::text, '')
  FROM publish_jobs
 WHERE (instance_id IS NULL OR instance_id = 'legacy')
   AND (status IN ('sending', 'processing')
        OR (status IN ('processing_batch', 'retryable') AND txid IS NOT NULL))
 ORDER BY created_at, job_id)SQL";

pg::Status read_legacy_sending(pg::Connection& c, LegacyScan& out) {
    pg::Result r = c.exec(k_legacy_sending_sql);
    if (!r.ok()) return r.status();
    for (int i = 0; i < r.rows(); ++i) {
        out.sending.push_back(LegacyJob{std::string(r.text(i, 0)), std::string(r.text(i, 1)),
                                        std::string(r.text(i, 2)), std::string(r.text(i, 3)),
                                        std::string(r.text(i, 4)), std::string(r.text(i, 5))});
    }
    return pg::Status::success();
}

// What is left of the old service's work: its waiting rows without a txid
// (counted) and the rows it may have broadcast (listed).
pg::Status read_legacy(pg::Connection& c, LegacyScan& out) {
    pg::Result n = c.exec(std::string("SELECT count(*) FROM publish_jobs WHERE ") + k_legacy_owner +
                          " AND status IN ('processing_batch', 'retryable') AND txid IS NULL");
    if (!n.ok()) return n.status();
    out.processing_batch = static_cast<std::uint64_t>(n.int64(0, 0).value_or(0));
    return read_legacy_sending(c, out);
}
}  // namespace

pg::Status count_legacy(pg::Connection& conn, LegacyScan& out) {
    out = LegacyScan{};
    return conn.transaction([&](pg::Connection& c) { return read_legacy(c, out); },
                            pg::Isolation::repeatable_read);
}

pg::Status requeue_legacy(pg::Connection& conn, const std::string& me, LegacyScan& out) {
    out = LegacyScan{};
    return conn.transaction([&](pg::Connection& c) {
        // Never reached the network (see the header): queued again, unowned,
        // so the claim pass publishes them; the old batch is remembered.
        pg::Result r = c.exec_params(R"SQL(
WITH moved AS (
    SELECT job_id, record_id, status AS old_status, processing_batch_id AS old_batch,
           batch_seq AS old_seq
      FROM publish_jobs
     WHERE (instance_id IS NULL OR instance_id = 'legacy')
       AND status IN ('processing_batch', 'retryable') AND txid IS NULL AND signed_tx IS NULL
       FOR UPDATE
), upd AS (
    UPDATE publish_jobs p
       SET status = 'queued', processing_batch_id = NULL, batch_seq = NULL, instance_id = NULL,
           updated_at = now()
      FROM moved m
     WHERE p.job_id = m.job_id
    RETURNING p.job_id
), aud AS (
    INSERT INTO audit_log (event, event_type, actor, job_id, record_id, detail)
    SELECT 'legacy_requeued', 'legacy_requeued', 'raregen', m.job_id, m.record_id,
           jsonb_build_object('instance', $1::text, 'old_status', m.old_status,
                              'old_batch_id', m.old_batch, 'old_batch_seq', m.old_seq)
      FROM moved m
)
SELECT count(*) FROM upd)SQL",
                                     me);
        if (!r.ok()) return r.status();
        out.requeued = static_cast<std::uint64_t>(r.int64(0, 0).value_or(0));
        return read_legacy(c, out);
    });
}

pg::Status mark_legacy_sent(pg::Connection& conn, const std::string& me, const LegacyJob& job,
                            std::string_view arc_status, bool& marked) {
    marked = false;
    return conn.transaction([&](pg::Connection& c) {
        pg::Result r = c.exec_params(R"SQL(
WITH upd AS (
    UPDATE publish_jobs
       SET status = 'sent', sent_at = coalesce(sent_at, now()), arc_status = $3,
           updated_at = now()
     WHERE job_id = $1 AND txid = $2 AND (instance_id IS NULL OR instance_id = 'legacy')
       AND status IN ('sending', 'processing', 'processing_batch', 'retryable')
    RETURNING job_id, record_id
), aud AS (
    INSERT INTO audit_log (event, event_type, actor, job_id, record_id, detail)
    SELECT 'legacy_sent', 'legacy_sent', 'raregen', job_id, record_id,
           jsonb_build_object('instance', $4::text, 'txid', $2::text, 'arc_status', $3::text)
      FROM upd
)
SELECT count(*) FROM upd)SQL",
                                     job.job_id, job.txid, std::string(arc_status), me);
        if (!r.ok()) return r.status();
        marked = r.int64(0, 0).value_or(0) == 1;
        return pg::Status::success();
    });
}

}  // namespace raregen::jobs
