#include "storage/pool/utxo_pool.h"

#include <algorithm>
#include <string>
#include <utility>

#include "engine/chain/bytes.h"
#include "engine/chain/tx.h"

namespace raregen::pool {
namespace {

// What a row must look like to be leased (see the header: every outpoint
// handed out parses and names its row exactly).
// Only outputs of exactly the publish value: a publication spends its whole
// input (no change), so a larger output (the old service's split change,
// recorded as 'publish') would be burnt as fee. Those are funding.
std::string leasable(std::int64_t publish_value) {
    return R"SQL(
       purpose = 'publish' AND status = 'available' AND dirty IS NOT TRUE
   AND txid ~ '^[0-9a-f]{64}$' AND vout BETWEEN 0 AND 4294967295 AND satoshis = )SQL" +
           std::to_string(publish_value);
}

// Ends a lease: back to 'available' unless a durable job spends the row.
// $1 is the instance id when the filter uses it.
constexpr const char* k_reclaim_head = R"SQL(
WITH target AS (
    SELECT u.txid, u.vout, j.txid AS job_txid, (j.spent_txid IS NOT NULL) AS durable
      FROM utxos u
      LEFT JOIN publish_jobs j ON j.spent_txid = u.txid AND j.spent_vout = u.vout
     WHERE u.status = 'reserved' AND u.leased_by IS NOT NULL AND )SQL";
// FOR UPDATE (not SKIP LOCKED): after waiting on a row a renewal holds, the
// server re-checks the filter, so a lease renewed meanwhile is left alone.
constexpr const char* k_reclaim_tail = R"SQL(
       FOR UPDATE OF u),
done AS (
    UPDATE utxos u
       SET status = CASE WHEN t.durable THEN 'spent' ELSE 'available' END,
           spent_at = CASE WHEN t.durable THEN now() ELSE u.spent_at END,
           spent_by_txid = CASE WHEN t.durable THEN t.job_txid ELSE u.spent_by_txid END,
           reserved_at = CASE WHEN t.durable THEN u.reserved_at END,
           reserved_until = NULL,
           reserved_by_job_id = CASE WHEN t.durable THEN u.reserved_by_job_id END,
           leased_by = NULL,
           lease_until = NULL
      FROM target t
     WHERE u.txid = t.txid AND u.vout = t.vout
 RETURNING t.durable)
SELECT count(*) FILTER (WHERE durable), count(*) FILTER (WHERE NOT durable) FROM done)SQL";

std::int64_t lease_ms(std::chrono::milliseconds lease) {
    return std::max<std::int64_t>(lease.count(), 1);
}

pg::Status failed(std::string_view what, const pg::Result& r) {
    return pg::Status::failure(std::string(what) + ": " + r.error(), std::string(r.sqlstate()));
}

std::uint64_t count_at(const pg::Result& r, int row, int col) {
    return static_cast<std::uint64_t>(std::max<std::int64_t>(r.int64(row, col).value_or(0), 0));
}

std::string display_txid(const chain::Hash256& txid) {
    return chain::to_hex_reversed(txid);
}

// A Postgres array literal, built element by element. Strings are quoted
// (backslash and double quote escaped); absent values are NULL.
class ArrayLiteral {
  public:
    void add_raw(std::string_view text) {
        sep();
        m_text += text;
    }
    void add_quoted(std::string_view text) {
        sep();
        m_text += '"';
        for (const char c : text) {
            if (c == '"' || c == '\\') m_text += '\\';
            m_text += c;
        }
        m_text += '"';
    }
    void add_optional(const std::optional<std::string>& text) {
        if (text) {
            add_quoted(*text);
        } else {
            add_raw("NULL");
        }
    }
    std::string finish() {
        std::string out = "{" + m_text + "}";
        m_text.clear();
        m_first = true;
        return out;
    }

  private:
    void sep() {
        if (!m_first) m_text += ',';
        m_first = false;
    }
    std::string m_text;
    bool m_first = true;
};

std::optional<chain::Utxo> parse_row(const pg::Result& r, int row) {
    const auto txid = chain::from_hex_fixed<32>(r.text(row, 0));
    const auto vout = r.int64(row, 1);
    const auto value = r.int64(row, 2);
    if (!txid || !vout || !value || *vout < 0 || *vout > 0xffffffffLL) return std::nullopt;
    chain::Utxo u;
    std::reverse_copy(txid->begin(), txid->end(), u.outpoint.txid.begin());
    u.outpoint.vout = static_cast<std::uint32_t>(*vout);
    u.value = *value;
    return u;
}

PoolResult<ReclaimCounts> reclaim(pg::Connection& conn, const std::string& filter,
                                  std::optional<std::string_view> instance_id) {
    PoolResult<ReclaimCounts> out;
    const std::string sql = std::string(k_reclaim_head) + filter + k_reclaim_tail;
    pg::Result r = instance_id ? conn.exec_params(sql, *instance_id) : conn.exec(sql);
    if (!r.ok() || r.rows() != 1) {
        out.status = failed("reclaiming UTXO leases failed", r);
        return out;
    }
    out.value.spent = count_at(r, 0, 0);
    out.value.available = count_at(r, 0, 1);
    return out;
}

bool is_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
}

bool is_printable(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

}  // namespace

std::string_view purpose_name(Purpose p) {
    switch (p) {
        case Purpose::publish:
            return "publish";
        case Purpose::funding:
            return "funding";
        case Purpose::change:
            return "change";
    }
    return "publish";
}

std::optional<Purpose> parse_purpose(std::string_view text) {
    for (const Purpose p : {Purpose::publish, Purpose::funding, Purpose::change}) {
        if (purpose_name(p) == text) return p;
    }
    return std::nullopt;
}

PoolResult<std::vector<chain::Utxo>> lease_utxos(pg::Connection& conn, std::string_view instance_id,
                                                 std::size_t max_n, std::chrono::milliseconds lease,
                                                 std::int64_t publish_value) {
    PoolResult<std::vector<chain::Utxo>> out;
    if (instance_id.empty()) {
        out.status = pg::Status::failure("leasing UTXOs needs an engine instance id (a bug)");
        return out;
    }
    if (max_n == 0) return out;
    // One statement: the rows are locked (SKIP LOCKED: rows another lease is
    // taking right now are passed over, not waited for) and marked together.
    const std::string sql = std::string(R"SQL(
WITH picked AS (
    SELECT txid, vout FROM utxos
     WHERE )SQL") + leasable(publish_value) +
                            R"SQL(
     LIMIT $2
       FOR UPDATE SKIP LOCKED),
leased AS (
    UPDATE utxos u
       SET status = 'reserved',
           reserved_at = now(),
           reserved_until = now() + $3::bigint * interval '1 millisecond',
           lease_until = now() + $3::bigint * interval '1 millisecond',
           leased_by = $1
      FROM picked p
     WHERE u.txid = p.txid AND u.vout = p.vout
 RETURNING u.txid, u.vout, u.satoshis)
SELECT txid, vout, satoshis FROM leased ORDER BY txid, vout)SQL";
    pg::Result r =
        conn.exec_params(sql, instance_id, static_cast<std::uint64_t>(max_n), lease_ms(lease));
    if (!r.ok()) {
        out.status = failed("leasing UTXOs failed", r);
        return out;
    }
    out.value.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        const auto u = parse_row(r, i);
        if (!u) {
            // The filter makes this impossible; the row stays reserved under
            // this instance (reclaimed with it), never handed out twice.
            out.status = pg::Status::failure("leased a utxos row that does not parse (" +
                                             std::string(r.text(i, 0)) + ":" +
                                             std::string(r.text(i, 1)) + "): a bug in raregen");
            out.value.clear();
            return out;
        }
        out.value.push_back(*u);
    }
    return out;
}

PoolResult<bool> has_available(pg::Connection& conn, std::int64_t publish_value) {
    PoolResult<bool> out;
    const std::string sql =
        "SELECT EXISTS (SELECT 1 FROM utxos WHERE " + leasable(publish_value) + ")";
    pg::Result r = conn.exec(sql);
    if (!r.ok() || r.rows() != 1) {
        out.status = failed("counting available UTXOs failed", r);
        return out;
    }
    out.value = r.text(0, 0) == "t";
    return out;
}

PoolResult<bool> pool_may_supply(pg::Connection& conn, std::string_view instance_id,
                                 std::int64_t publish_value) {
    PoolResult<bool> out;
    const std::string sql =
        "SELECT EXISTS (SELECT 1 FROM utxos WHERE " + leasable(publish_value) + R"SQL()
    OR EXISTS (
    SELECT 1 FROM utxos u
     WHERE u.purpose = 'publish' AND u.status = 'reserved'
       AND u.leased_by IS NOT NULL AND u.leased_by <> $1
       AND NOT EXISTS (SELECT 1 FROM publish_jobs p
                        WHERE p.spent_txid = u.txid AND p.spent_vout = u.vout)))SQL";
    pg::Result r = conn.exec_params(sql, instance_id);
    if (!r.ok() || r.rows() != 1) {
        out.status = failed("checking whether the UTXO pool can still supply failed", r);
        return out;
    }
    out.value = r.text(0, 0) == "t";
    return out;
}

PoolResult<std::uint64_t> renew_leases(pg::Connection& conn, std::string_view instance_id,
                                       std::chrono::milliseconds lease) {
    PoolResult<std::uint64_t> out;
    pg::Result r = conn.exec_params(R"SQL(
UPDATE utxos
   SET lease_until = now() + $2::bigint * interval '1 millisecond',
       reserved_until = now() + $2::bigint * interval '1 millisecond'
 WHERE leased_by = $1 AND status = 'reserved')SQL",
                                    instance_id, lease_ms(lease));
    if (!r.ok()) {
        out.status = failed("renewing UTXO leases failed", r);
        return out;
    }
    out.value = r.affected_rows();
    return out;
}

PoolResult<ReclaimCounts> reclaim_utxos(pg::Connection& conn, std::string_view instance_id) {
    return reclaim(conn, "u.leased_by = $1", instance_id);
}

PoolResult<ReclaimCounts> reclaim_expired(pg::Connection& conn) {
    return reclaim(conn, "u.lease_until < now()", std::nullopt);
}

PoolResult<std::uint64_t> release_utxos(pg::Connection& conn, std::string_view instance_id,
                                        std::span<const chain::Utxo> utxos) {
    PoolResult<std::uint64_t> out;
    ArrayLiteral txids;
    ArrayLiteral vouts;
    for (std::size_t begin = 0; begin < utxos.size(); begin += k_import_batch) {
        const std::size_t end = std::min(utxos.size(), begin + k_import_batch);
        for (std::size_t i = begin; i < end; ++i) {
            txids.add_raw(display_txid(utxos[i].outpoint.txid));
            vouts.add_raw(std::to_string(utxos[i].outpoint.vout));
        }
        const std::string txid_array = txids.finish();
        const std::string vout_array = vouts.finish();
        pg::Result r = conn.exec_params(R"SQL(
UPDATE utxos u
   SET status = 'available',
       leased_by = NULL,
       lease_until = NULL,
       reserved_at = NULL,
       reserved_until = NULL,
       reserved_by_job_id = NULL
  FROM unnest($2::text[], $3::bigint[]) AS r(txid, vout)
 WHERE u.txid = r.txid AND u.vout = r.vout
   AND u.leased_by = $1 AND u.status = 'reserved'
   AND NOT EXISTS (SELECT 1 FROM publish_jobs j
                    WHERE j.spent_txid = u.txid AND j.spent_vout = u.vout))SQL",
                                        instance_id, txid_array, vout_array);
        if (!r.ok()) {
            out.status = failed("releasing UTXOs failed", r);
            return out;
        }
        out.value += r.affected_rows();
    }
    return out;
}

PoolResult<ImportCounts> import_utxos(pg::Connection& conn, std::span<const ImportUtxo> utxos,
                                      Purpose purpose) {
    PoolResult<ImportCounts> out;
    for (const ImportUtxo& u : utxos) {
        const std::string where = chain::format_outpoint(u.utxo.outpoint);
        if (u.utxo.value < 0) {
            out.status = pg::Status::failure(where + " has a negative value (" +
                                             std::to_string(u.utxo.value) +
                                             " sat); fix the input, nothing was imported");
            return out;
        }
        if (u.script_pub_key && (!is_hex(*u.script_pub_key) || u.script_pub_key->size() % 2)) {
            out.status = pg::Status::failure(
                where + ": script_pub_key is not hex; fix the input, nothing was imported");
            return out;
        }
        if (u.address && !is_printable(*u.address)) {
            out.status = pg::Status::failure(
                where + ": address holds control characters; fix the input, nothing was imported");
            return out;
        }
    }
    const std::string purpose_text(purpose_name(purpose));
    pg::Status st = conn.transaction([&](pg::Connection& c) {
        ArrayLiteral txids, vouts, values, scripts, addresses;
        for (std::size_t begin = 0; begin < utxos.size(); begin += k_import_batch) {
            const std::size_t end = std::min(utxos.size(), begin + k_import_batch);
            for (std::size_t i = begin; i < end; ++i) {
                const ImportUtxo& u = utxos[i];
                txids.add_raw(display_txid(u.utxo.outpoint.txid));
                vouts.add_raw(std::to_string(u.utxo.outpoint.vout));
                values.add_raw(std::to_string(u.utxo.value));
                if (u.script_pub_key) {
                    std::string lower = *u.script_pub_key;
                    std::transform(lower.begin(), lower.end(), lower.begin(), [](char ch) {
                        return (ch >= 'A' && ch <= 'F') ? static_cast<char>(ch - 'A' + 'a') : ch;
                    });
                    scripts.add_quoted(lower);
                } else {
                    scripts.add_raw("NULL");
                }
                addresses.add_optional(u.address);
            }
            const std::string a1 = txids.finish(), a2 = vouts.finish(), a3 = values.finish(),
                              a4 = scripts.finish(), a5 = addresses.finish();
            pg::Result r = c.exec_params(R"SQL(
INSERT INTO utxos (txid, vout, satoshis, script_pub_key, address, purpose, status, dirty)
SELECT r.txid, r.vout, r.satoshis, coalesce(r.script, ''), r.address, $6, 'available', false
  FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])
       AS r(txid, vout, satoshis, script, address)
    ON CONFLICT (txid, vout) DO NOTHING)SQL",
                                         a1, a2, a3, a4, a5, purpose_text);
            if (!r.ok()) return failed("importing UTXOs failed (nothing was imported)", r);
            out.value.inserted += r.affected_rows();
        }
        return pg::Status::success();
    });
    if (!st.ok()) {
        out.status = std::move(st);
        out.value = {};
        return out;
    }
    out.value.already_present = utxos.size() - out.value.inserted;
    return out;
}

PoolResult<PoolStatus> pool_status(pg::Connection& conn, std::int64_t publish_value) {
    PoolResult<PoolStatus> out;
    PoolStatus& s = out.value;
    // One snapshot, so the counts add up.
    out.status = conn.transaction(
        [&](pg::Connection& c) {
            pg::Result groups = c.exec(R"SQL(
SELECT coalesce(purpose, ''), coalesce(status, ''), count(*),
       count(*) FILTER (WHERE dirty IS TRUE), coalesce(sum(satoshis), 0)::bigint
  FROM utxos GROUP BY 1, 2 ORDER BY 1, 2)SQL");
            if (!groups.ok()) return failed("counting UTXOs failed", groups);
            for (int i = 0; i < groups.rows(); ++i) {
                StatusCount sc;
                sc.purpose = groups.text(i, 0);
                sc.status = groups.text(i, 1);
                sc.count = count_at(groups, i, 2);
                sc.dirty = count_at(groups, i, 3);
                sc.satoshis = groups.int64(i, 4).value_or(0);
                s.total += sc.count;
                s.by_purpose_status.push_back(std::move(sc));
            }
            pg::Result inst = c.exec(R"SQL(
SELECT leased_by, count(*), count(*) FILTER (WHERE lease_until < now())
  FROM utxos WHERE status = 'reserved' AND leased_by IS NOT NULL
 GROUP BY 1 ORDER BY 1)SQL");
            if (!inst.ok()) return failed("counting UTXO leases failed", inst);
            for (int i = 0; i < inst.rows(); ++i) {
                s.by_instance.push_back(InstanceLeases{std::string(inst.text(i, 0)),
                                                       count_at(inst, i, 1), count_at(inst, i, 2)});
            }
            const std::string others =
                "SELECT count(*) FILTER (WHERE " + leasable(publish_value) +
                "), count(*) FILTER (WHERE status = 'reserved' AND leased_by IS NULL), "
                "count(*) FILTER (WHERE purpose = 'publish' AND status = 'available' AND "
                "dirty IS NOT TRUE AND satoshis > " +
                std::to_string(publish_value) +
                "), coalesce(sum(satoshis) FILTER (WHERE purpose = 'publish' AND status = "
                "'available' AND dirty IS NOT TRUE AND satoshis > " +
                std::to_string(publish_value) + "), 0)::bigint FROM utxos";
            pg::Result more = c.exec(others);
            if (!more.ok() || more.rows() != 1) return failed("counting UTXOs failed", more);
            s.leasable = count_at(more, 0, 0);
            s.reserved_unleased = count_at(more, 0, 1);
            s.oversized = count_at(more, 0, 2);
            s.oversized_satoshis = more.int64(0, 3).value_or(0);
            return pg::Status::success();
        },
        pg::Isolation::repeatable_read);
    if (!out.status.ok()) out.value = {};
    return out;
}

}  // namespace raregen::pool
