#include "storage/writebehind/write_behind.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <stdexcept>
#include <unordered_map>

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
    std::array<char, model::JobId::k_max_text> text;
    push_text(a, id.text(text));
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

// Jobs accepted in this flush, with whatever else this flush knows about
// them (batch, signed transaction): one row version per job instead of one
// per fact. A signed part whose outpoint another job already spends is left
// out (the job stays unsigned and the fact is refused). A row that is
// already ours (a retry after an unknown COMMIT outcome) counts as written.
constexpr const char* k_accepted_sql = R"SQL(
WITH input AS (
    SELECT t.*, t.canonical::jsonb AS doc, (t.txid IS NOT NULL AND EXISTS (
                    SELECT 1 FROM publish_jobs q
                     WHERE q.spent_txid = t.spent_txid AND q.spent_vout = t.spent_vout
                       AND q.job_id <> t.job_id)) AS taken
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                  $7::text[], $8::int[], $9::text[], $10::bytea[], $11::bytea[], $12::text[],
                  $13::bigint[], $15::text[])
        AS t(job_id, record_id, canonical, record_hash, pubkey_hex, intake_seq, batch_id, seq,
             txid, raw, ef, spent_txid, spent_vout, form)
), ins AS (
    INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, cdn_url,
                              file_sha256, status, created_at, updated_at, intake_seq, instance_id,
                              processing_batch_id, batch_seq, txid, signed_tx, ef_tx, spent_txid,
                              spent_vout, signed_at)
    SELECT job_id, record_id, canonical, record_hash,
           doc #>> '{distribution,cdnUrl}', doc #>> '{distribution,sha256}',
           CASE WHEN batch_id IS NULL THEN 'queued' ELSE 'processing_batch' END, now(), now(),
           intake_seq, $14, batch_id, seq,
           CASE WHEN taken THEN NULL ELSE txid END, CASE WHEN taken THEN NULL ELSE raw END,
           CASE WHEN taken THEN NULL ELSE ef END, CASE WHEN taken THEN NULL ELSE spent_txid END,
           CASE WHEN taken THEN NULL ELSE spent_vout END,
           CASE WHEN taken OR txid IS NULL THEN NULL ELSE now() END
      FROM input
    ON CONFLICT DO NOTHING
    RETURNING job_id, record_id, txid
), nonce AS (
    INSERT INTO nonces (pubkey_hex, nonce, record_id, seen_at)
    SELECT i.pubkey_hex, i.doc ->> 'nonce', i.record_id, now()
      FROM input i JOIN ins USING (job_id)
    ON CONFLICT DO NOTHING
), audit AS (
    INSERT INTO audit_log (event, event_type, actor, job_id, record_id, detail)
    SELECT 'job_accepted', 'job_accepted', 'raregen', ins.job_id, ins.record_id,
           jsonb_build_object('instance', $14::text, 'canonical', i.form)
      FROM ins JOIN input i USING (job_id)
), spend AS (
    UPDATE utxos x
       SET status = 'spent', spent_at = coalesce(x.spent_at, now()), spent_by_txid = i.txid,
           reserved_by_job_id = i.job_id
      FROM ins JOIN input i USING (job_id)
     WHERE ins.txid IS NOT NULL AND x.txid = i.spent_txid AND x.vout = i.spent_vout
)
SELECT job_id, txid IS NOT NULL FROM ins
UNION ALL
SELECT p.job_id, p.txid IS NOT NULL AND p.txid IS NOT DISTINCT FROM i.txid
  FROM publish_jobs p JOIN input i USING (job_id)
 WHERE p.instance_id = $14
)SQL";

// Batch and signed facts of jobs accepted in an earlier flush, one row
// version per job. Idempotent: a row already signed with the same txid
// matches again; a resumed job keeps the batch it had.
constexpr const char* k_progress_sql = R"SQL(
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bytea[], $6::bytea[],
                         $7::text[], $8::bigint[])
        AS t(job_id, batch_id, seq, txid, raw, ef, spent_txid, spent_vout)
), upd AS (
    UPDATE publish_jobs p
       SET processing_batch_id = coalesce(p.processing_batch_id, u.batch_id),
           batch_seq = coalesce(p.batch_seq, u.seq),
           status = CASE WHEN p.status = 'queued' THEN 'processing_batch' ELSE p.status END,
           txid = coalesce(u.txid, p.txid), signed_tx = coalesce(u.raw, p.signed_tx),
           ef_tx = coalesce(u.ef, p.ef_tx), spent_txid = coalesce(u.spent_txid, p.spent_txid),
           spent_vout = coalesce(u.spent_vout, p.spent_vout),
           signed_at = CASE WHEN u.txid IS NULL THEN p.signed_at ELSE coalesce(p.signed_at, now()) END,
           updated_at = now()
      FROM u
     WHERE p.job_id = u.job_id AND p.instance_id = $9
       AND (u.txid IS NOT NULL OR p.status = 'queued')
       AND (u.txid IS NULL OR (
             p.status IN ('queued', 'processing_batch', 'sending', 'sent', 'confirmed')
             AND (p.signed_tx IS NULL OR p.txid = u.txid)
             AND NOT EXISTS (SELECT 1 FROM publish_jobs q
                              WHERE q.spent_txid = u.spent_txid AND q.spent_vout = u.spent_vout
                                AND q.job_id <> u.job_id)))
    RETURNING p.job_id, u.txid, u.spent_txid, u.spent_vout
), spend AS (
    UPDATE utxos x
       SET status = 'spent', spent_at = coalesce(x.spent_at, now()), spent_by_txid = upd.txid,
           reserved_by_job_id = upd.job_id
      FROM upd
     WHERE upd.txid IS NOT NULL AND x.txid = upd.spent_txid AND x.vout = upd.spent_vout
)
SELECT job_id FROM upd WHERE txid IS NOT NULL
)SQL";

constexpr const char* k_batch_closed_sql = R"SQL(
INSERT INTO publish_batches (batch_id, job_count, status, created_at, closed_at, updated_at, instance_id)
SELECT batch_id, job_count, 'closed', now(), now(), now(), $3
  FROM unnest($1::text[], $2::int[]) AS u(batch_id, job_count)
ON CONFLICT (batch_id) DO NOTHING
)SQL";

// A job signed again after the network refused its fee (ARC 465): the new
// transaction spends the same outpoint, so it replaces the stored txid and
// bytes. Only while the job is ours and not finished, and only for the
// outpoint the row already spends: anything else is refused.
constexpr const char* k_resigned_sql = R"SQL(
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::text[], $6::bigint[])
        AS t(job_id, txid, raw, ef, spent_txid, spent_vout)
), upd AS (
    UPDATE publish_jobs p
       SET txid = u.txid, signed_tx = u.raw, ef_tx = u.ef, signed_at = now(), updated_at = now()
      FROM u
     WHERE p.job_id = u.job_id AND p.instance_id = $7
       AND p.status IN ('processing_batch', 'sending')
       AND p.spent_txid = u.spent_txid AND p.spent_vout = u.spent_vout
    RETURNING p.job_id, u.txid, u.spent_txid, u.spent_vout
), spend AS (
    UPDATE utxos x SET spent_by_txid = upd.txid
      FROM upd
     WHERE x.txid = upd.spent_txid AND x.vout = upd.spent_vout
)
SELECT job_id FROM upd
)SQL";

// Released, sent and failed facts, one row version per job. (The fence
// keeps a job's release out of the flush that signs it.)
constexpr const char* k_outcome_sql = R"SQL(
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::bool[], $3::bool[], $4::text[], $5::text[], $6::text[],
                         $7::bigint[])
        AS t(job_id, released, sent, code, detail, spent_txid, spent_vout)
), upd AS (
    UPDATE publish_jobs p
       SET status = CASE WHEN u.code IS NOT NULL THEN 'failed' WHEN u.sent THEN 'sent'
                         ELSE 'sending' END,
           sending_started_at = CASE WHEN u.released THEN now() ELSE p.sending_started_at END,
           attempts = p.attempts + CASE WHEN u.released THEN 1 ELSE 0 END,
           sent_at = CASE WHEN u.sent THEN coalesce(p.sent_at, now()) ELSE p.sent_at END,
           error_code = coalesce(u.code, p.error_code),
           error_detail = coalesce(u.detail, p.error_detail),
           updated_at = now()
      FROM u
     WHERE p.job_id = u.job_id AND p.instance_id = $8
       AND p.status IN ('queued', 'processing_batch', 'sending')
    RETURNING u.code, u.spent_txid, u.spent_vout
)
UPDATE utxos x SET dirty = true
  FROM upd
 WHERE upd.code IS NOT NULL AND upd.spent_txid IS NOT NULL
   AND x.txid = upd.spent_txid AND x.vout = upd.spent_vout
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
        case model::FailCode::network_rejected:
            return "the network rejected the transaction";
        case model::FailCode::double_spend:
            return "the network saw another transaction spending the same UTXO";
        case model::FailCode::fee_ceiling:
            return "the UTXO drawn is worth more than a publication may pay as fee (no change "
                   "output): it was not spent; publish UTXOs must hold the publication value";
        case model::FailCode::none:
            break;
    }
    return "failed";
}

}  // namespace

struct IdHash {
    std::size_t operator()(const std::array<std::uint8_t, 16>& id) const noexcept {
        std::uint64_t h = 0;
        std::memcpy(&h, id.data(), sizeof h);  // random bytes (UUID v4): already well mixed
        return static_cast<std::size_t>(h ^ (h >> 29));
    }
};

// Reused per-flush state (writer thread only): array literals, one per
// column, and the facts folded per job.
struct WriteBehind::Columns {
    std::string a[14];
    std::vector<std::string> ids;
    std::vector<Merged> jobs;
    std::unordered_map<std::array<std::uint8_t, 16>, std::size_t, IdHash> index;
    std::vector<const Slot*> closed;
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
    s.healthy = m_healthy.load(std::memory_order_acquire);
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
            if (!m_healthy.load(std::memory_order_relaxed)) {
                {
                    std::lock_guard slock(m_stats_mu);
                    m_stats.last_error.clear();
                }
                m_healthy.store(true, std::memory_order_release);
                log("database reachable again; write-behind resumed");
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
        // The reason first, then the flag: whoever sees healthy() == false
        // also finds last_error set.
        {
            std::lock_guard slock(m_stats_mu);
            ++m_stats.retries;
            m_stats.last_error = m_error;
        }
        if (m_healthy.exchange(false, std::memory_order_release))
            log("database unreachable, holding " + std::to_string(to - from) +
                "+ facts and retrying: " + m_error);
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
    pg::Status st = apply_in_transaction(from, to, refused);
    if (!st.ok()) {
        m_error = st.message();
        if (!data_level(*m_conn, st.sqlstate())) return false;
        // A statement failed on its data: find the culprit fact by fact.
        log("write-behind flush failed (" + st.message() + "); retrying fact by fact");
        return flush_one_by_one(from, to);
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    add_refused(refused);
    std::lock_guard slock(m_stats_mu);
    ++m_stats.commits;
    m_rows_flushed += to - from;
    m_flush_ms[m_flush_ms_next] = ms;
    m_flush_ms_next = (m_flush_ms_next + 1) % m_flush_ms.size();
    return true;
}

pg::Status WriteBehind::apply_in_transaction(FactTicket from, FactTicket to,
                                             std::vector<FactTicket>& refused) {
    return m_conn->transaction([&](pg::Connection&) {
        refused.clear();
        if (!apply(from, to, refused)) return pg::Status::failure(m_error, m_sqlstate);
        return pg::Status::success();
    });
}

void WriteBehind::add_refused(const std::vector<FactTicket>& refused) {
    if (refused.empty()) return;
    std::lock_guard lock(m_refused_mu);
    for (FactTicket t : refused)
        m_refused.insert(t);
    m_refused_count.fetch_add(refused.size(), std::memory_order_release);
}

bool WriteBehind::flush_one_by_one(FactTicket from, FactTicket to) {
    for (FactTicket t = from; t < to; ++t) {
        std::vector<FactTicket> refused;
        pg::Status st = apply_in_transaction(t, t + 1, refused);
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
            // A skipped acceptance wrote no row: refused, so nobody
            // acknowledges it (the HTTP API waits for exactly this fact).
            if (s.kind == FactKind::tx_signed || s.kind == FactKind::tx_resigned ||
                s.kind == FactKind::job_accepted)
                refused.push_back(t);
        }
        add_refused(refused);
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

    // Fold the range per job, in ticket order (each job's facts arrive in
    // its causal order).
    c.jobs.clear();
    c.index.clear();
    c.closed.clear();
    for (FactTicket t = from; t < to; ++t) {
        const Slot& s = slot(t);
        if (s.kind == FactKind::batch_closed) {
            c.closed.push_back(&s);
            continue;
        }
        auto [it, inserted] = c.index.try_emplace(s.job.job_id.bytes, c.jobs.size());
        if (inserted) c.jobs.emplace_back();
        Merged& m = c.jobs[it->second];
        switch (s.kind) {
            case FactKind::job_accepted:
                m.accepted = &s;
                m.accepted_ticket = t;
                break;
            case FactKind::job_batched:
                m.batched = &s;
                break;
            case FactKind::tx_signed:
                m.signed_fact = &s;
                m.signed_ticket = t;
                break;
            case FactKind::tx_released:
                m.released = true;
                break;
            case FactKind::tx_sent:
                m.sent = true;
                break;
            case FactKind::job_failed:
                m.failed = &s;
                break;
            case FactKind::tx_resigned:
                m.resigned = &s;
                m.resigned_ticket = t;
                break;
            case FactKind::batch_closed:
                break;
        }
        m.last = &s;
    }
    auto id_of = [](const Merged& m) -> const model::JobId& { return m.last->job.job_id; };
    auto push_signed_cols = [&](const Merged& m, std::string& txid, std::string& raw,
                                std::string& ef, std::string& sp_txid, std::string& sp_vout) {
        if (m.signed_fact == nullptr) {
            push_null(txid);
            push_null(raw);
            push_null(ef);
            push_null(sp_txid);
            push_null(sp_vout);
            return;
        }
        const model::Job& j = m.signed_fact->job;
        push_text(txid, txid_hex(j.txid));
        push_bytea(raw, j.raw.span());
        if (j.ef.size != 0)
            push_bytea(ef, j.ef.span());
        else
            push_null(ef);
        push_text(sp_txid, txid_hex(j.utxo.outpoint.txid));
        push_uint(sp_vout, j.utxo.outpoint.vout);
    };
    auto push_batch_cols = [&](const Merged& m, std::string& batch, std::string& seq) {
        const Slot* b = m.batched ? m.batched : m.signed_fact;
        if (b == nullptr || b->job.batch_no == 0) {
            push_null(batch);
            push_null(seq);
            return;
        }
        push_text(batch, batch_name(b->job.batch_no));
        push_uint(seq, b->job.batch_seq);
    };
    auto note_refusals = [&](const pg::Result& r, bool second_column) {
        std::unordered_set<std::string_view> took;
        for (int i = 0; i < r.rows(); ++i)
            if (!second_column || r.text(i, 1) == "t") took.insert(r.text(i, 0));
        return took;
    };

    // 1. accepted here (with their batch and signature if also here)
    {
        std::size_t n = 0;
        for (int i = 0; i < 14; ++i)
            open_array(c.a[i]);
        c.ids.clear();
        for (const Merged& m : c.jobs) {
            if (m.accepted == nullptr) continue;
            ++n;
            const model::Job& j = m.accepted->job;
            c.ids.push_back(j.job_id.to_string());
            push_text(c.a[0], c.ids.back());
            push_text(c.a[1], j.record_id.view());
            push_text(c.a[2], m.accepted->canonical);
            c.a[3].push_back('"');
            chain::append_hex(chain::ByteSpan(j.record_hash.data(), j.record_hash.size()), c.a[3]);
            c.a[3].append("\",");
            c.a[4].push_back('"');
            chain::append_hex(chain::ByteSpan(j.signer.data(), j.signer.size()), c.a[4]);
            c.a[4].append("\",");
            push_uint(c.a[5], j.intake_seq);
            push_batch_cols(m, c.a[6], c.a[7]);
            push_signed_cols(m, c.a[8], c.a[9], c.a[10], c.a[11], c.a[12]);
            push_text(c.a[13], model::canonical_form_name(j.canonical_form));
        }
        if (n != 0) {
            for (int i = 0; i < 14; ++i)
                close_array(c.a[i]);
            auto r = run(k_accepted_sql, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5], c.a[6],
                         c.a[7], c.a[8], c.a[9], c.a[10], c.a[11], c.a[12], me, c.a[13]);
            if (!r) return false;
            const auto took = note_refusals(*r, true);
            const auto present = note_refusals(*r, false);
            for (const Merged& m : c.jobs) {
                if (m.accepted == nullptr) continue;
                const std::string id = m.accepted->job.job_id.to_string();
                // Not inserted and not ours already: another job holds the
                // record (record_hash is unique). The job must not go on,
                // and whoever waits for this fact must not acknowledge it.
                if (!present.count(id)) refused.push_back(m.accepted_ticket);
                if (m.signed_fact != nullptr && !took.count(id)) refused.push_back(m.signed_ticket);
            }
        }
    }
    // 2. batched and/or signed here, accepted earlier
    {
        std::size_t n = 0;
        for (int i = 0; i < 8; ++i)
            open_array(c.a[i]);
        for (const Merged& m : c.jobs) {
            if (m.accepted != nullptr || (m.batched == nullptr && m.signed_fact == nullptr))
                continue;
            ++n;
            push_job_id(c.a[0], id_of(m));
            push_batch_cols(m, c.a[1], c.a[2]);
            push_signed_cols(m, c.a[3], c.a[4], c.a[5], c.a[6], c.a[7]);
        }
        if (n != 0) {
            for (int i = 0; i < 8; ++i)
                close_array(c.a[i]);
            auto r = run(k_progress_sql, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5], c.a[6],
                         c.a[7], me);
            if (!r) return false;
            const auto took = note_refusals(*r, false);
            for (const Merged& m : c.jobs)
                if (m.accepted == nullptr && m.signed_fact != nullptr &&
                    !took.count(m.signed_fact->job.job_id.to_string()))
                    refused.push_back(m.signed_ticket);
        }
    }
    // 3. batches closed
    if (!c.closed.empty()) {
        open_array(c.a[0]);
        open_array(c.a[1]);
        for (const Slot* s : c.closed) {
            push_text(c.a[0], batch_name(s->job.batch_no));
            push_uint(c.a[1], s->job.batch_seq);
        }
        close_array(c.a[0]);
        close_array(c.a[1]);
        if (!run(k_batch_closed_sql, c.a[0], c.a[1], me)) return false;
    }
    // 4. signed again after a fee refusal
    {
        std::size_t n = 0;
        for (int i = 0; i < 6; ++i)
            open_array(c.a[i]);
        for (const Merged& m : c.jobs) {
            if (m.resigned == nullptr) continue;
            ++n;
            const model::Job& j = m.resigned->job;
            push_job_id(c.a[0], j.job_id);
            push_text(c.a[1], txid_hex(j.txid));
            push_bytea(c.a[2], j.raw.span());
            if (j.ef.size != 0)
                push_bytea(c.a[3], j.ef.span());
            else
                push_null(c.a[3]);
            push_text(c.a[4], txid_hex(j.utxo.outpoint.txid));
            push_uint(c.a[5], j.utxo.outpoint.vout);
        }
        if (n != 0) {
            for (int i = 0; i < 6; ++i)
                close_array(c.a[i]);
            auto r = run(k_resigned_sql, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5], me);
            if (!r) return false;
            const auto took = note_refusals(*r, false);
            for (const Merged& m : c.jobs)
                if (m.resigned != nullptr && !took.count(m.resigned->job.job_id.to_string()))
                    refused.push_back(m.resigned_ticket);
        }
    }
    // 5. released / sent / failed
    {
        std::size_t n = 0;
        for (int i = 0; i < 7; ++i)
            open_array(c.a[i]);
        for (const Merged& m : c.jobs) {
            if (!m.released && !m.sent && m.failed == nullptr) continue;
            ++n;
            push_job_id(c.a[0], id_of(m));
            c.a[1].append(m.released ? "t," : "f,");
            c.a[2].append(m.sent ? "t," : "f,");
            if (m.failed != nullptr) {
                const model::Job& j = m.failed->job;
                push_text(c.a[3], model::fail_code_name(j.fail));
                push_text(c.a[4], m.failed->canonical.empty()
                                      ? fail_detail(j.fail)
                                      : std::string_view(m.failed->canonical));
                if (j.raw.size != 0) {
                    push_text(c.a[5], txid_hex(j.utxo.outpoint.txid));
                    push_uint(c.a[6], j.utxo.outpoint.vout);
                } else {
                    push_null(c.a[5]);
                    push_null(c.a[6]);
                }
            } else {
                for (int i = 3; i < 7; ++i)
                    push_null(c.a[i]);
            }
        }
        if (n != 0) {
            for (int i = 0; i < 7; ++i)
                close_array(c.a[i]);
            if (!run(k_outcome_sql, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5], c.a[6], me))
                return false;
        }
    }
    return true;
}

}  // namespace raregen::writebehind
