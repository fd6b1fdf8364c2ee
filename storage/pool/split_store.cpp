#include "storage/pool/split_store.h"

#include <algorithm>
#include <string>

#include "engine/chain/bytes.h"

namespace raregen::pool {
namespace {

pg::Status failed(std::string_view what, const pg::Result& r) {
    return pg::Status::failure(std::string(what) + ": " + r.error(), std::string(r.sqlstate()));
}

std::string display(const chain::Hash256& txid) {
    return chain::to_hex_reversed(txid);
}

std::optional<chain::Hash256> parse_display(std::string_view text) {
    const auto h = chain::from_hex_fixed<32>(text);
    if (!h) return std::nullopt;
    chain::Hash256 out{};
    std::reverse_copy(h->begin(), h->end(), out.begin());
    return out;
}

// The funding filter: usable for a split, the key's own script.
constexpr const char* k_funding_filter = R"SQL(
       purpose IN ('funding', 'change') AND status = 'available' AND dirty IS NOT TRUE
   AND txid ~ '^[0-9a-f]{64}$' AND vout BETWEEN 0 AND 4294967295
   AND (script_pub_key = '' OR lower(script_pub_key) = $1) AND satoshis >= $2)SQL";

}  // namespace

PoolResult<std::uint64_t> publish_depth(pg::Connection& conn, std::int64_t publish_value) {
    PoolResult<std::uint64_t> out;
    pg::Result r = conn.exec_params(
        "SELECT count(*) FROM utxos WHERE purpose = 'publish' AND dirty IS NOT TRUE AND "
        "satoshis = $1 AND (status = 'available' OR (status = 'reserved' AND leased_by IS NOT "
        "NULL))",
        publish_value);
    if (!r.ok() || r.rows() != 1) {
        out.status = failed("reading the pool depth failed", r);
        return out;
    }
    out.value = static_cast<std::uint64_t>(std::max<std::int64_t>(r.int64(0, 0).value_or(0), 0));
    return out;
}

PoolResult<FundingState> funding_state(pg::Connection& conn, std::string_view script_hex,
                                       std::int64_t min_value) {
    PoolResult<FundingState> out;
    const std::string sql = std::string(R"SQL(
WITH usable AS (SELECT txid, vout, satoshis FROM utxos WHERE )SQL") +
                            k_funding_filter + R"SQL()
SELECT (SELECT count(*) FROM usable), (SELECT coalesce(sum(satoshis), 0) FROM usable),
       l.txid, l.vout, l.satoshis
  FROM (SELECT 1) AS one
  LEFT JOIN (SELECT txid, vout, satoshis FROM usable ORDER BY satoshis DESC, txid, vout LIMIT 1) l
    ON true)SQL";
    pg::Result r = conn.exec_params(sql, script_hex, min_value);
    if (!r.ok() || r.rows() != 1) {
        out.status = failed("reading the funding UTXOs failed", r);
        return out;
    }
    out.value.outputs = static_cast<std::uint64_t>(r.int64(0, 0).value_or(0));
    out.value.satoshis = r.int64(0, 1).value_or(0);
    if (!r.is_null(0, 2)) {
        const auto txid = parse_display(r.text(0, 2));
        const auto vout = r.int64(0, 3);
        const auto sats = r.int64(0, 4);
        if (txid && vout && sats) {
            chain::Utxo u;
            u.outpoint.txid = *txid;
            u.outpoint.vout = static_cast<std::uint32_t>(*vout);
            u.value = *sats;
            out.value.largest = u;
        }
    }
    return out;
}

pg::Status record_split(pg::Connection& conn, const SplitRecord& s, std::string_view instance_id) {
    const std::string funding_txid = display(s.funding.outpoint.txid);
    return conn.transaction([&](pg::Connection& c) -> pg::Status {
        pg::Result spent = c.exec_params(
            "UPDATE utxos SET status = 'spent', spent_at = now(), spent_by_txid = $3 "
            "WHERE txid = $1 AND vout = $2 AND status = 'available' AND dirty IS NOT TRUE "
            "AND purpose IN ('funding', 'change')",
            funding_txid, static_cast<std::int64_t>(s.funding.outpoint.vout), s.txid);
        if (!spent.ok()) return failed("marking the split's funding spent failed", spent);
        if (spent.affected_rows() != 1)
            return pg::Status::failure("funding output " + funding_txid + ":" +
                                           std::to_string(s.funding.outpoint.vout) +
                                           " is no longer available (another split took it?)",
                                       "P0002");
        pg::Result ins = c.exec_params(
            "INSERT INTO raregen_splits (txid, funding_txid, funding_vout, funding_satoshis, "
            "outputs, each_satoshis, change_satoshis, fee, raw_tx, instance_id) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
            // The same funding split again after a refusal was cleared makes
            // the same transaction (deterministic signatures): the refused
            // row becomes the new attempt.
            "ON CONFLICT (txid) DO UPDATE SET status = 'signed', detail = NULL, "
            "instance_id = EXCLUDED.instance_id, updated_at = now() "
            "WHERE raregen_splits.status = 'refused'",
            s.txid, funding_txid, static_cast<std::int64_t>(s.funding.outpoint.vout),
            s.funding.value, static_cast<std::int64_t>(s.outputs), s.each, s.change,
            static_cast<std::int64_t>(s.fee), pg::Binary{s.raw}, instance_id);
        if (!ins.ok()) return failed("recording the split transaction failed", ins);
        if (ins.affected_rows() != 1)
            return pg::Status::failure("split " + s.txid + " is already recorded and not refused");
        return pg::Status::success();
    });
}

pg::Status accept_split(pg::Connection& conn, const SplitRecord& s) {
    return conn.transaction([&](pg::Connection& c) -> pg::Status {
        pg::Result st = c.exec_params(
            "UPDATE raregen_splits SET status = 'accepted', updated_at = now() "
            "WHERE txid = $1 AND status = 'signed'",
            s.txid);
        if (!st.ok()) return failed("marking the split accepted failed", st);
        if (st.affected_rows() != 1)
            return pg::Status::failure("split " + s.txid + " is not recorded as signed");
        pg::Result outs = c.exec_params(
            "INSERT INTO utxos (txid, vout, satoshis, script_pub_key, purpose, status) "
            "SELECT $1, v, $2, '', 'publish', 'available' FROM generate_series(0, $3 - 1) AS v "
            "ON CONFLICT (txid, vout) DO NOTHING",
            s.txid, s.each, static_cast<std::int64_t>(s.outputs));
        if (!outs.ok()) return failed("inserting the split's outputs failed", outs);
        if (s.change > 0) {
            pg::Result ch = c.exec_params(
                "INSERT INTO utxos (txid, vout, satoshis, script_pub_key, purpose, status) "
                "VALUES ($1, $2, $3, '', 'change', 'available') ON CONFLICT (txid, vout) DO "
                "NOTHING",
                s.txid, static_cast<std::int64_t>(s.outputs), s.change);
            if (!ch.ok()) return failed("inserting the split's change failed", ch);
        }
        return pg::Status::success();
    });
}

pg::Status refuse_split(pg::Connection& conn, const SplitRecord& s, std::string_view detail) {
    return conn.transaction([&](pg::Connection& c) -> pg::Status {
        pg::Result st = c.exec_params(
            "UPDATE raregen_splits SET status = 'refused', detail = $2, updated_at = now() "
            "WHERE txid = $1 AND status = 'signed'",
            s.txid, detail);
        if (!st.ok()) return failed("marking the split refused failed", st);
        pg::Result back = c.exec_params(
            "UPDATE utxos SET status = 'available', spent_at = NULL, spent_by_txid = NULL, "
            "dirty = true WHERE txid = $1 AND vout = $2 AND status = 'spent' AND spent_by_txid = "
            "$3",
            display(s.funding.outpoint.txid), static_cast<std::int64_t>(s.funding.outpoint.vout),
            s.txid);
        if (!back.ok()) return failed("returning the refused split's funding failed", back);
        return pg::Status::success();
    });
}

PoolResult<std::vector<SplitRecord>> pending_splits(pg::Connection& conn) {
    PoolResult<std::vector<SplitRecord>> out;
    pg::Result r = conn.exec(
        "SELECT txid, funding_txid, funding_vout, funding_satoshis, outputs, each_satoshis, "
        "change_satoshis, fee, raw_tx FROM raregen_splits WHERE status = 'signed' "
        "ORDER BY created_at, txid");
    if (!r.ok()) {
        out.status = failed("reading the pending splits failed", r);
        return out;
    }
    for (int i = 0; i < r.rows(); ++i) {
        SplitRecord s;
        s.txid = std::string(r.text(i, 0));
        const auto f = parse_display(r.text(i, 1));
        const auto raw = r.bytes(i, 8);
        if (!f || !raw) {
            out.status = pg::Status::failure("split " + s.txid + " has an unreadable row");
            return out;
        }
        s.funding.outpoint.txid = *f;
        s.funding.outpoint.vout = static_cast<std::uint32_t>(r.int64(i, 2).value_or(0));
        s.funding.value = r.int64(i, 3).value_or(0);
        s.outputs = static_cast<std::size_t>(r.int64(i, 4).value_or(0));
        s.each = r.int64(i, 5).value_or(0);
        s.change = r.int64(i, 6).value_or(0);
        s.fee = static_cast<std::uint64_t>(r.int64(i, 7).value_or(0));
        s.raw = *raw;
        out.value.push_back(std::move(s));
    }
    return out;
}

PoolResult<bool> try_lock_replenisher(pg::Connection& conn) {
    PoolResult<bool> out;
    pg::Result r = conn.exec_params("SELECT pg_try_advisory_lock($1)", k_replenisher_lock_key);
    if (!r.ok() || r.rows() != 1) {
        out.status = failed("taking the replenisher lock failed", r);
        return out;
    }
    out.value = r.text(0, 0) == "t";
    return out;
}

pg::Status unlock_replenisher(pg::Connection& conn) {
    pg::Result r = conn.exec_params("SELECT pg_advisory_unlock($1)", k_replenisher_lock_key);
    if (!r.ok()) return failed("releasing the replenisher lock failed", r);
    return pg::Status::success();
}

}  // namespace raregen::pool
