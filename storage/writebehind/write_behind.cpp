#include "storage/writebehind/write_behind.h"

#include <algorithm>
#include <random>
#include <stdexcept>

#include "engine/chain/bytes.h"
#include "storage/pg/connection.h"

namespace raregen::writebehind {

namespace {

using Clock = std::chrono::steady_clock;
using model::FactKind;
using model::FactTicket;

// Array literals for unnest($n::type[]): every element double-quoted, with
// backslash and double quote escaped (the array input syntax).
void open_array(std::string& a) {
    a.clear();
    a.push_back('{');
}
void close_array(std::string& a) {
    if (a.size() == 1) {
        a.push_back('}');
        return;
    }
    a.back() = '}';  // replaces the trailing comma
}
void push_text(std::string& a, std::string_view v) {
    a.push_back('"');
    for (char c : v) {
        if (c == '"' || c == '\\') a.push_back('\\');
        a.push_back(c);
    }
    a.append("\",");
}
void push_null(std::string& a) {
    a.append("NULL,");
}
void push_uint(std::string& a, std::uint64_t v) {
    a.append(std::to_string(v));
    a.push_back(',');
}
// bytea element in hex input form: "\\x0a0b" (the backslash escaped once for
// the array syntax).
void push_bytea(std::string& a, chain::ByteSpan bytes) {
    a.append("\"\\\\x");
    chain::append_hex(bytes, a);
    a.append("\",");
}
void push_job_id(std::string& a, const model::JobId& id) {
    std::array<char, 36> text;
    id.format(text);
    push_text(a, std::string_view(text.data(), text.size()));
}
std::string txid_hex(const chain::Hash256& txid) {
    return chain::to_hex_reversed(chain::ByteSpan(txid.data(), txid.size()));
}

// Only a fact whose own data breaks a rule (class 22 data exception, 23
// integrity constraint) is worth trying alone and skipping. Everything else
// (a lost connection, a server shutting down, a missing table while an
// operator restores a schema, a deadlock) is held and retried as a whole:
// dropping facts for those would lose accepted work.
bool data_level(const pg::Connection& c, std::string_view sqlstate) {
    if (!c.ok()) return false;
    return sqlstate.starts_with("22") || sqlstate.starts_with("23");
}

constexpr const char* k_accepted_sql = R"SQL(
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
        AS t(job_id, record_id, canonical, record_hash, pubkey_hex, intake_seq)
), ins AS (
    INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, cdn_url,
                              file_sha256, status, created_at, updated_at, intake_seq, instance_id)
    SELECT job_id, record_id, canonical, record_hash,
           canonical::jsonb #>> '{distribution,cdnUrl}', canonical::jsonb #>> '{distribution,sha256}',
           'queued', now(), now(), intake_seq, $7
      FROM input
    ON CONFLICT DO NOTHING
    RETURNING job_id, record_id
), nonce AS (
    INSERT INTO nonces (pubkey_hex, nonce, record_id, seen_at)
    SELECT i.pubkey_hex, i.canonical::jsonb ->> 'nonce', i.record_id, now()
      FROM input i JOIN ins USING (job_id)
    ON CONFLICT DO NOTHING
), audit AS (
    INSERT INTO audit_log (event, actor, job_id, record_id, detail)
    SELECT 'job_accepted', 'raregen', ins.job_id, ins.record_id, jsonb_build_object('instance', $7::text)
      FROM ins
)
SELECT count(*) FROM ins
)SQL";

constexpr const char* k_batched_sql = R"SQL(
UPDATE publish_jobs p
   SET status = 'processing_batch', processing_batch_id = u.batch_id, batch_seq = u.seq,
       updated_at = now()
  FROM unnest($1::text[], $2::text[], $3::int[]) AS u(job_id, batch_id, seq)
 WHERE p.job_id = u.job_id AND p.instance_id = $4 AND p.status = 'queued'
)SQL";

constexpr const char* k_batch_closed_sql = R"SQL(
INSERT INTO publish_batches (batch_id, job_count, status, created_at, closed_at, updated_at, instance_id)
SELECT batch_id, job_count, 'closed', now(), now(), now(), $3
  FROM unnest($1::text[], $2::int[]) AS u(batch_id, job_count)
ON CONFLICT (batch_id) DO NOTHING
)SQL";

// Idempotent: a row already signed with the same txid matches again.
constexpr const char* k_signed_sql = R"SQL(
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::text[],
                         $6::bigint[], $7::text[], $8::int[])
        AS t(job_id, txid, raw, ef, spent_txid, spent_vout, batch_id, seq)
), upd AS (
    UPDATE publish_jobs p
       SET txid = u.txid, signed_tx = u.raw, ef_tx = u.ef, spent_txid = u.spent_txid,
           spent_vout = u.spent_vout, signed_at = coalesce(p.signed_at, now()), updated_at = now(),
           -- a resumed job keeps the batch it was given before the restart
           processing_batch_id = coalesce(p.processing_batch_id, u.batch_id),
           batch_seq = coalesce(p.batch_seq, u.seq),
           status = CASE WHEN p.status = 'queued' THEN 'processing_batch' ELSE p.status END
      FROM u
     WHERE p.job_id = u.job_id AND p.instance_id = $9
       AND p.status IN ('queued', 'processing_batch', 'sending', 'sent', 'confirmed')
       AND (p.signed_tx IS NULL OR p.txid = u.txid)
       AND NOT EXISTS (SELECT 1 FROM publish_jobs q
                        WHERE q.spent_txid = u.spent_txid AND q.spent_vout = u.spent_vout
                          AND q.job_id <> u.job_id)
    RETURNING p.job_id, u.txid, u.spent_txid, u.spent_vout
), spend AS (
    UPDATE utxos x
       SET status = 'spent', spent_at = coalesce(x.spent_at, now()), spent_by_txid = upd.txid,
           reserved_by_job_id = upd.job_id
      FROM upd
     WHERE x.txid = upd.spent_txid AND x.vout = upd.spent_vout
)
SELECT job_id FROM upd
)SQL";

constexpr const char* k_released_sql = R"SQL(
UPDATE publish_jobs p
   SET status = 'sending', sending_started_at = now(), attempts = p.attempts + 1, updated_at = now()
  FROM unnest($1::text[]) AS u(job_id)
 WHERE p.job_id = u.job_id AND p.instance_id = $2
   AND p.status IN ('queued', 'processing_batch', 'sending')
)SQL";

constexpr const char* k_sent_sql = R"SQL(
UPDATE publish_jobs p
   SET status = 'sent', sent_at = coalesce(p.sent_at, now()), updated_at = now()
  FROM unnest($1::text[]) AS u(job_id)
 WHERE p.job_id = u.job_id AND p.instance_id = $2
   AND p.status IN ('queued', 'processing_batch', 'sending')
)SQL";

constexpr const char* k_failed_sql = R"SQL(
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
        AS t(job_id, code, detail, spent_txid, spent_vout)
), upd AS (
    UPDATE publish_jobs p
       SET status = 'failed', error_code = u.code, error_detail = u.detail, updated_at = now()
      FROM u
     WHERE p.job_id = u.job_id AND p.instance_id = $6
       AND p.status IN ('queued', 'processing_batch', 'sending')
    RETURNING u.spent_txid, u.spent_vout
)
UPDATE utxos x SET dirty = true
  FROM upd
 WHERE upd.spent_txid IS NOT NULL AND x.txid = upd.spent_txid AND x.vout = upd.spent_vout
)SQL";

std::string_view fail_detail(model::FailCode c) {
    switch (c) {
        case model::FailCode::no_utxo:
            return "no UTXO was left to fund the transaction; import or split more publish UTXOs";
        case model::FailCode::build_failed:
            return "the transaction could not be built or signed (the UTXO cannot pay the fee?)";
        case model::FailCode::storage_refused:
            return "the database refused the signed transaction: the job belongs to another "
                   "engine or its record or UTXO is already used";
        case model::FailCode::sink_refused:
            return "the sink refused the transaction for good";
        case model::FailCode::none:
            break;
    }
    return "failed";
}

}  // namespace

// Reused array literals, one per column (writer thread only).
struct WriteBehind::Columns {
    std::string a[9];
    std::vector<FactTicket> signed_tickets;
    std::vector<std::string> signed_ids;
};

WriteBehind::WriteBehind(WriteBehindOptions options) : m_options(std::move(options)) {
    if (m_options.capacity == 0) throw std::invalid_argument("write-behind: capacity must be >= 1");
    if (m_options.max_flush == 0)
        throw std::invalid_argument("write-behind: max_flush must be >= 1");
    if (m_options.instance_id.empty())
        throw std::invalid_argument("write-behind: instance_id must not be empty");
    m_slots.resize(m_options.capacity);
    for (Slot& s : m_slots)
        s.canonical.reserve(m_options.canonical_room);
    m_cols = std::make_unique<Columns>();
    m_refused.reserve(1024);
    m_flush_ms.assign(4096, 0.0);
}

WriteBehind::~WriteBehind() {
    stop(std::chrono::milliseconds(0));
}

void WriteBehind::start() {
    if (m_started) return;
    m_started = true;
    m_thread = std::thread([this] { run(); });
}

bool WriteBehind::stop(std::chrono::milliseconds give_up) {
    if (!m_started || m_stopped) return durable_through() == m_head;
    {
        std::unique_lock lock(m_mu);
        const auto deadline = Clock::now() + give_up;
        m_cv.notify_all();
        while (m_durable.load(std::memory_order_acquire) != m_head) {
            // While the database is up the writer keeps moving; the deadline
            // only counts while it is down.
            if (healthy()) {
                m_drained.wait_for(lock, std::chrono::milliseconds(50));
                continue;
            }
            if (Clock::now() >= deadline) break;
            m_drained.wait_for(lock, std::chrono::milliseconds(50));
        }
        m_stopping = true;
        m_cv.notify_all();
    }
    m_thread.join();
    m_stopped = true;
    return durable_through() == m_head;
}

FactTicket WriteBehind::try_emit(FactKind kind, const model::Job& job, flow::Nanos,
                                 std::string_view canonical_record) noexcept {
    std::unique_lock lock(m_mu);
    const FactTicket durable = m_durable.load(std::memory_order_relaxed);
    if (m_head - durable >= m_slots.size()) {
        ++m_stats.full;  // guarded by m_mu here (stats() takes both)
        return 0;
    }
    const FactTicket t = ++m_head;
    Slot& s = slot(t);
    s.kind = kind;
    s.job = job;
    try {
        s.canonical.assign(canonical_record);
    } catch (...) {
        // Out of memory for an oversized record: give the ticket back.
        --m_head;
        return 0;
    }
    const bool was_empty = (t - 1 == durable);
    lock.unlock();
    if (was_empty) m_cv.notify_one();
    return t;
}

bool WriteBehind::refused(FactTicket ticket) const noexcept {
    if (m_refused_count.load(std::memory_order_acquire) == 0) return false;
    std::lock_guard lock(m_refused_mu);
    return m_refused.count(ticket) != 0;
}

WriteBehindStats WriteBehind::stats() const {
    std::lock_guard lock(m_mu);
    std::lock_guard slock(m_stats_mu);
    WriteBehindStats s = m_stats;
    s.emitted = m_head;
    s.durable = m_durable.load(std::memory_order_acquire);
    s.pending = s.emitted - s.durable;
    s.healthy = m_healthy.load(std::memory_order_relaxed);
    s.refused = m_refused_count.load(std::memory_order_relaxed);
    const std::size_t n = std::min<std::size_t>(m_stats.commits, m_flush_ms.size());
    if (n > 0) {
        std::vector<double> v(m_flush_ms.begin(), m_flush_ms.begin() + static_cast<long>(n));
        std::sort(v.begin(), v.end());
        s.flush_ms_p50 = v[n / 2];
        s.flush_ms_p99 = v[std::min(n - 1, n * 99 / 100)];
        s.flush_ms_max = v.back();
        s.rows_per_flush_mean =
            static_cast<double>(m_rows_flushed) / static_cast<double>(m_stats.commits);
    }
    return s;
}

void WriteBehind::log(std::string_view message) {
    if (m_options.on_log) m_options.on_log(message);
}

bool WriteBehind::ensure_connected() {
    if (m_conn && m_conn->ok()) return true;
    pg::Status error;
    std::optional<pg::Connection> c = pg::Connection::try_connect(m_options.conninfo, error);
    if (!c) {
        m_error = error.message();
        return false;
    }
    // Commits here are the durability the fence promises: never asynchronous.
    pg::Result r = c->exec("SET synchronous_commit = on; SET statement_timeout = '60s'");
    if (!r.ok()) {
        m_error = r.error();
        return false;
    }
    m_conn = std::make_unique<pg::Connection>(std::move(*c));
    return true;
}

void WriteBehind::run() {
    std::mt19937_64 jitter(std::random_device{}());
    auto backoff = m_options.retry_min;
    for (;;) {
        FactTicket from = 0, to = 0;
        {
            std::unique_lock lock(m_mu);
            m_cv.wait(lock, [&] {
                return m_stopping || m_head != m_durable.load(std::memory_order_relaxed);
            });
            from = m_durable.load(std::memory_order_relaxed) + 1;
            to = std::min<FactTicket>(m_head + 1, from + m_options.max_flush);
            if (from == to && m_stopping) return;
        }
        bool ok = ensure_connected() && flush(from, to);
        if (ok) {
            if (!m_healthy.exchange(true, std::memory_order_relaxed)) {
                log("database reachable again; write-behind resumed");
                std::lock_guard slock(m_stats_mu);
                m_stats.last_error.clear();
            }
            backoff = m_options.retry_min;
            {
                std::lock_guard lock(m_mu);
                m_durable.store(to - 1, std::memory_order_release);
            }
            m_drained.notify_all();
            if (m_options.on_durable) m_options.on_durable();
            continue;
        }
        // The database is unreachable (or the connection broke mid-flush):
        // keep every fact, back off with jitter, try again.
        if (m_healthy.exchange(false, std::memory_order_relaxed))
            log("database unreachable, holding " + std::to_string(to - from) +
                "+ facts and retrying: " + m_error);
        {
            std::lock_guard slock(m_stats_mu);
            ++m_stats.retries;
            m_stats.last_error = m_error;
        }
        m_conn.reset();
        const auto half = backoff / 2;
        const auto wait = half + std::chrono::milliseconds(
                                     std::uniform_int_distribution<long>(0, half.count())(jitter));
        {
            std::unique_lock lock(m_mu);
            // A stop with the database down still waits for stop()'s deadline.
            m_cv.wait_for(lock, wait, [&] { return m_stopping; });
            if (m_stopping) return;
        }
        backoff = std::min(backoff * 2, m_options.retry_max);
    }
}

bool WriteBehind::flush(FactTicket from, FactTicket to) {
    const auto t0 = Clock::now();
    std::vector<FactTicket> refused;
    pg::Status st = m_conn->transaction([&](pg::Connection&) {
        refused.clear();
        if (!apply(from, to, refused)) return pg::Status::failure(m_error, m_sqlstate);
        return pg::Status::success();
    });
    if (!st.ok()) {
        m_error = st.message();
        if (!data_level(*m_conn, st.sqlstate())) return false;
        // A statement failed on its data: find the culprit fact by fact.
        log("write-behind flush failed (" + st.message() + "); retrying fact by fact");
        return flush_one_by_one(from, to);
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!refused.empty()) {
        std::lock_guard lock(m_refused_mu);
        for (FactTicket t : refused)
            m_refused.insert(t);
        m_refused_count.fetch_add(refused.size(), std::memory_order_release);
    }
    std::lock_guard slock(m_stats_mu);
    ++m_stats.commits;
    m_rows_flushed += to - from;
    m_flush_ms[m_flush_ms_next] = ms;
    m_flush_ms_next = (m_flush_ms_next + 1) % m_flush_ms.size();
    return true;
}

bool WriteBehind::flush_one_by_one(FactTicket from, FactTicket to) {
    for (FactTicket t = from; t < to; ++t) {
        std::vector<FactTicket> refused;
        pg::Status st = m_conn->transaction([&](pg::Connection&) {
            refused.clear();
            if (!apply(t, t + 1, refused)) return pg::Status::failure(m_error, m_sqlstate);
            return pg::Status::success();
        });
        if (!st.ok()) {
            if (!data_level(*m_conn, st.sqlstate())) {
                m_error = st.message();
                return false;  // facts before t are committed; they are idempotent
            }
            const Slot& s = slot(t);
            log(std::string("write-behind skipped a ") +
                std::string(model::fact_kind_name(s.kind)) + " fact of job " +
                s.job.job_id.to_string() + ": " + st.message());
            std::lock_guard slock(m_stats_mu);
            ++m_stats.skipped;
            if (s.kind == FactKind::tx_signed) refused.push_back(t);
        }
        if (!refused.empty()) {
            std::lock_guard lock(m_refused_mu);
            for (FactTicket r : refused)
                m_refused.insert(r);
            m_refused_count.fetch_add(refused.size(), std::memory_order_release);
        }
    }
    std::lock_guard slock(m_stats_mu);
    ++m_stats.commits;
    m_rows_flushed += to - from;
    return true;
}

bool WriteBehind::apply(FactTicket from, FactTicket to, std::vector<FactTicket>& refused) {
    Columns& c = *m_cols;
    const std::string& me = m_options.instance_id;
    auto run = [&](const char* sql, auto&&... params) -> std::optional<pg::Result> {
        pg::Result r = m_conn->exec_params(sql, params...);
        if (!r.ok()) {
            m_error = r.error();
            m_sqlstate = std::string(r.sqlstate());
            return std::nullopt;
        }
        return r;
    };
    auto batch_name = [&](std::uint64_t batch_no) {
        return "b-" + m_options.batch_prefix + "-" + std::to_string(batch_no);
    };
    auto count_kind = [&](FactKind k) {
        std::size_t n = 0;
        for (FactTicket t = from; t < to; ++t)
            n += slot(t).kind == k;
        return n;
    };

    // job_accepted
    if (count_kind(FactKind::job_accepted) != 0) {
        for (int i = 0; i < 6; ++i)
            open_array(c.a[i]);
        for (FactTicket t = from; t < to; ++t) {
            const Slot& s = slot(t);
            if (s.kind != FactKind::job_accepted) continue;
            push_job_id(c.a[0], s.job.job_id);
            push_text(c.a[1], s.job.record_id.view());
            push_text(c.a[2], s.canonical);
            c.a[3].push_back('"');
            chain::append_hex(chain::ByteSpan(s.job.record_hash.data(), s.job.record_hash.size()),
                              c.a[3]);
            c.a[3].append("\",");
            c.a[4].push_back('"');
            chain::append_hex(chain::ByteSpan(s.job.signer.data(), s.job.signer.size()), c.a[4]);
            c.a[4].append("\",");
            push_uint(c.a[5], s.job.intake_seq);
        }
        for (int i = 0; i < 6; ++i)
            close_array(c.a[i]);
        if (!run(k_accepted_sql, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5], me)) return false;
    }
    // job_batched
    if (count_kind(FactKind::job_batched) != 0) {
        for (int i = 0; i < 3; ++i)
            open_array(c.a[i]);
        for (FactTicket t = from; t < to; ++t) {
            const Slot& s = slot(t);
            if (s.kind != FactKind::job_batched) continue;
            push_job_id(c.a[0], s.job.job_id);
            push_text(c.a[1], batch_name(s.job.batch_no));
            push_uint(c.a[2], s.job.batch_seq);
        }
        for (int i = 0; i < 3; ++i)
            close_array(c.a[i]);
        if (!run(k_batched_sql, c.a[0], c.a[1], c.a[2], me)) return false;
    }
    // batch_closed
    if (count_kind(FactKind::batch_closed) != 0) {
        for (int i = 0; i < 2; ++i)
            open_array(c.a[i]);
        for (FactTicket t = from; t < to; ++t) {
            const Slot& s = slot(t);
            if (s.kind != FactKind::batch_closed) continue;
            push_text(c.a[0], batch_name(s.job.batch_no));
            push_uint(c.a[1], s.job.batch_seq);
        }
        for (int i = 0; i < 2; ++i)
            close_array(c.a[i]);
        if (!run(k_batch_closed_sql, c.a[0], c.a[1], me)) return false;
    }
    // tx_signed
    if (count_kind(FactKind::tx_signed) != 0) {
        for (int i = 0; i < 8; ++i)
            open_array(c.a[i]);
        c.signed_tickets.clear();
        c.signed_ids.clear();
        for (FactTicket t = from; t < to; ++t) {
            const Slot& s = slot(t);
            if (s.kind != FactKind::tx_signed) continue;
            c.signed_tickets.push_back(t);
            c.signed_ids.push_back(s.job.job_id.to_string());
            push_text(c.a[0], c.signed_ids.back());
            push_text(c.a[1], txid_hex(s.job.txid));
            push_bytea(c.a[2], s.job.raw.span());
            if (s.job.ef.size != 0)
                push_bytea(c.a[3], s.job.ef.span());
            else
                push_null(c.a[3]);
            push_text(c.a[4], txid_hex(s.job.utxo.outpoint.txid));
            push_uint(c.a[5], s.job.utxo.outpoint.vout);
            push_text(c.a[6], batch_name(s.job.batch_no));
            push_uint(c.a[7], s.job.batch_seq);
        }
        for (int i = 0; i < 8; ++i)
            close_array(c.a[i]);
        auto r =
            run(k_signed_sql, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5], c.a[6], c.a[7], me);
        if (!r) return false;
        std::unordered_set<std::string_view> took;
        for (int i = 0; i < r->rows(); ++i)
            took.insert(r->text(i, 0));
        for (std::size_t i = 0; i < c.signed_tickets.size(); ++i)
            if (!took.count(c.signed_ids[i])) refused.push_back(c.signed_tickets[i]);
    }
    // tx_released, tx_sent
    for (FactKind k : {FactKind::tx_released, FactKind::tx_sent}) {
        if (count_kind(k) == 0) continue;
        open_array(c.a[0]);
        for (FactTicket t = from; t < to; ++t)
            if (slot(t).kind == k) push_job_id(c.a[0], slot(t).job.job_id);
        close_array(c.a[0]);
        if (!run(k == FactKind::tx_released ? k_released_sql : k_sent_sql, c.a[0], me))
            return false;
    }
    // job_failed
    if (count_kind(FactKind::job_failed) != 0) {
        for (int i = 0; i < 5; ++i)
            open_array(c.a[i]);
        for (FactTicket t = from; t < to; ++t) {
            const Slot& s = slot(t);
            if (s.kind != FactKind::job_failed) continue;
            push_job_id(c.a[0], s.job.job_id);
            push_text(c.a[1], model::fail_code_name(s.job.fail));
            push_text(c.a[2], fail_detail(s.job.fail));
            if (s.job.raw.size != 0) {
                push_text(c.a[3], txid_hex(s.job.utxo.outpoint.txid));
                push_uint(c.a[4], s.job.utxo.outpoint.vout);
            } else {
                push_null(c.a[3]);
                push_null(c.a[4]);
            }
        }
        for (int i = 0; i < 5; ++i)
            close_array(c.a[i]);
        if (!run(k_failed_sql, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], me)) return false;
    }
    return true;
}

}  // namespace raregen::writebehind
