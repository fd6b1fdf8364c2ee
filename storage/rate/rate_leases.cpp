#include "storage/rate/rate_leases.h"

#include <algorithm>
#include <string>

namespace raregen::rate {
namespace {

pg::Status failed(const std::string& what, const pg::Result& r) {
    return pg::Status::failure(what + ": " + r.error(), std::string(r.sqlstate()));
}

}  // namespace

pg::Status configure_gate(pg::Connection& conn, std::string_view gate, std::uint32_t capacity,
                          std::chrono::milliseconds period, std::uint32_t& previous) {
    previous = 0;
    return conn.transaction([&](pg::Connection& c) -> pg::Status {
        pg::Result old = c.exec_params(
            "SELECT capacity, period_ms FROM raregen_rate_tokens WHERE gate = $1 FOR UPDATE", gate);
        if (!old.ok()) return failed("reading the shared rate limit failed", old);
        if (old.rows() == 1 && old.int64(0, 0).value_or(0) == static_cast<std::int64_t>(capacity) &&
            old.int64(0, 1).value_or(0) == static_cast<std::int64_t>(period.count()))
            return pg::Status::success();
        pg::Result r = c.exec_params(
            "INSERT INTO raregen_rate_tokens (gate, capacity, period_ms) VALUES ($1, $2, $3) "
            "ON CONFLICT (gate) DO UPDATE SET capacity = EXCLUDED.capacity, period_ms = "
            "EXCLUDED.period_ms, updated_at = now()",
            gate, static_cast<std::int64_t>(capacity), static_cast<std::int64_t>(period.count()));
        if (!r.ok()) return failed("setting the shared rate limit failed", r);
        if (old.rows() == 1) previous = static_cast<std::uint32_t>(old.int64(0, 0).value_or(0));
        return pg::Status::success();
    });
}

pg::Status hold_rate_lock(pg::Connection& conn, std::string_view instance_id, bool& held) {
    held = false;
    pg::Result r = conn.exec_params("SELECT pg_try_advisory_lock($1, hashtext($2))",
                                    static_cast<std::int64_t>(k_rate_lock_class), instance_id);
    if (!r.ok()) return failed("taking this engine's rate lock failed", r);
    held = r.text(0, 0) == "t";
    return pg::Status::success();
}

pg::Status acquire_slice(pg::Connection& conn, std::string_view gate, std::string_view instance_id,
                         std::uint32_t want, Slice& out, const ReapRule& reap) {
    out = Slice{};
    return conn.transaction([&](pg::Connection& c) -> pg::Status {
        pg::Result row = c.exec_params(
            "SELECT capacity, period_ms FROM raregen_rate_tokens WHERE gate = $1 FOR UPDATE", gate);
        if (!row.ok()) return failed("reading the shared rate limit failed", row);
        if (row.rows() != 1)
            return pg::Status::failure("no shared rate limit named '" + std::string(gate) +
                                       "' in raregen_rate_tokens (run the migrations)");
        out.capacity = static_cast<std::uint32_t>(row.int64(0, 0).value_or(0));
        out.period = std::chrono::milliseconds(row.int64(0, 1).value_or(0));
        // Dead engines' slices (no rate lock, no fresh heartbeat): settled
        // `grace` ahead, for what they may still have in flight. The xact
        // lock is released at commit whatever the row.
        pg::Result reaped = c.exec_params(
            "UPDATE raregen_rate_leases l SET settled_at = clock_timestamp() + "
            "make_interval(secs => $4::bigint / 1000.0) "
            "WHERE l.gate = $1 AND l.settled_at IS NULL AND l.instance_id <> $2 "
            "AND NOT EXISTS (SELECT 1 FROM raregen_instances i WHERE i.instance_id = "
            "l.instance_id AND i.stopped_at IS NULL AND i.heartbeat_at > clock_timestamp() - "
            "make_interval(secs => $5::bigint / 1000.0)) "
            "AND pg_try_advisory_xact_lock($3, hashtext(l.instance_id))",
            gate, instance_id, static_cast<std::int64_t>(k_rate_lock_class),
            static_cast<std::int64_t>(reap.grace.count()),
            static_cast<std::int64_t>(reap.stale.count()));
        if (!reaped.ok()) return failed("returning dead engines' rate slices failed", reaped);
        out.reaped = static_cast<std::uint32_t>(reaped.affected_rows());
        pg::Result gone = c.exec_params(
            "DELETE FROM raregen_rate_leases WHERE gate = $1 AND settled_at IS NOT NULL AND "
            "settled_at <= clock_timestamp() - make_interval(secs => $2::bigint / 1000.0)",
            gate, static_cast<std::int64_t>(out.period.count()));
        if (!gone.ok()) return failed("dropping returned rate slices failed", gone);
        pg::Result held = c.exec_params(
            "SELECT coalesce(sum(tokens), 0), "
            "ceil(extract(epoch FROM min(settled_at) + make_interval(secs => $2::bigint / 1000.0) "
            "- clock_timestamp()) * 1000)::bigint "
            "FROM raregen_rate_leases WHERE gate = $1",
            gate, static_cast<std::int64_t>(out.period.count()));
        if (!held.ok()) return failed("counting the rate slices held failed", held);
        const std::int64_t outstanding = held.int64(0, 0).value_or(0);
        if (!held.is_null(0, 1))
            out.next_return =
                std::chrono::milliseconds(std::max<std::int64_t>(0, held.int64(0, 1).value_or(0)));
        const std::int64_t room = static_cast<std::int64_t>(out.capacity) - outstanding;
        const std::uint32_t grant =
            room <= 0 ? 0 : static_cast<std::uint32_t>(std::min<std::int64_t>(room, want));
        if (grant == 0) return pg::Status::success();
        pg::Result ins = c.exec_params(
            "INSERT INTO raregen_rate_leases (gate, instance_id, tokens) VALUES ($1, $2, $3) "
            "RETURNING lease_id",
            gate, instance_id, static_cast<std::int64_t>(grant));
        if (!ins.ok()) return failed("recording a rate slice failed", ins);
        out.lease_id = ins.int64(0, 0).value_or(0);
        out.tokens = grant;
        return pg::Status::success();
    });
}

namespace {

pg::Status resize(pg::Connection& conn, std::int64_t lease_id, std::uint32_t spent, bool settle,
                  bool& found) {
    found = false;
    if (spent == 0) {
        pg::Result r = conn.exec_params(
            "DELETE FROM raregen_rate_leases WHERE lease_id = $1 AND settled_at IS NULL", lease_id);
        if (!r.ok()) return failed("dropping a rate slice failed", r);
        found = r.affected_rows() == 1;
        return pg::Status::success();
    }
    pg::Result r = conn.exec_params(
        settle ? "UPDATE raregen_rate_leases SET tokens = $2, settled_at = clock_timestamp() "
                 "WHERE lease_id = $1 AND settled_at IS NULL"
               : "UPDATE raregen_rate_leases SET tokens = $2 WHERE lease_id = $1 AND settled_at "
                 "IS NULL",
        lease_id, static_cast<std::int64_t>(spent));
    if (!r.ok()) return failed("updating a rate slice failed", r);
    found = r.affected_rows() == 1;
    return pg::Status::success();
}

}  // namespace

pg::Status shrink_slice(pg::Connection& conn, std::int64_t lease_id, std::uint32_t spent,
                        bool& found) {
    return resize(conn, lease_id, spent, false, found);
}

pg::Status settle_slice(pg::Connection& conn, std::int64_t lease_id, std::uint32_t spent,
                        bool& found) {
    return resize(conn, lease_id, spent, true, found);
}

pg::Status drop_unknown_slices(pg::Connection& conn, std::string_view instance_id,
                               const std::vector<std::int64_t>& known) {
    std::string list = "{";
    for (std::size_t i = 0; i < known.size(); ++i) {
        if (i > 0) list += ",";
        list += std::to_string(known[i]);
    }
    list += "}";
    pg::Result r = conn.exec_params(
        "DELETE FROM raregen_rate_leases WHERE instance_id = $1 AND settled_at IS NULL AND "
        "lease_id <> ALL($2::bigint[])",
        instance_id, list);
    if (!r.ok()) return failed("dropping unknown rate slices failed", r);
    return pg::Status::success();
}

pg::Status outstanding_tokens(pg::Connection& conn, std::string_view gate, std::int64_t& out) {
    pg::Result r = conn.exec_params(
        "SELECT coalesce(sum(l.tokens), 0) FROM raregen_rate_leases l JOIN raregen_rate_tokens t "
        "USING (gate) WHERE l.gate = $1 AND (l.settled_at IS NULL OR l.settled_at > "
        "clock_timestamp() - make_interval(secs => t.period_ms / 1000.0))",
        gate);
    if (!r.ok()) return failed("counting the rate slices held failed", r);
    out = r.int64(0, 0).value_or(0);
    return pg::Status::success();
}

}  // namespace raregen::rate
