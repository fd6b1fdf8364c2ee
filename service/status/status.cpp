#include "service/status/status.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "service/status/monitoring_sql.h"

namespace raregen::status {

namespace {

// PostgreSQL type oids (pg_type.h) of the columns the queries return.
constexpr Oid k_bool = 16, k_int8 = 20, k_int2 = 21, k_int4 = 23, k_float8 = 701, k_numeric = 1700;

// One row of a result as a JSON object, numbers and booleans typed.
Json row_json(const pg::Result& r, int row) {
    Json o = Json::object();
    for (int col = 0; col < r.columns(); ++col) {
        const char* name = PQfname(r.native(), col);
        if (r.is_null(row, col)) {
            o[name] = nullptr;
            continue;
        }
        const std::string text(r.text(row, col));
        switch (PQftype(r.native(), col)) {
            case k_bool:
                o[name] = text == "t";
                break;
            case k_int2:
            case k_int4:
            case k_int8:
                o[name] = std::strtoll(text.c_str(), nullptr, 10);
                break;
            case k_float8:
            case k_numeric:
                o[name] = std::strtod(text.c_str(), nullptr);
                break;
            default:
                o[name] = text;
        }
    }
    return o;
}

Json rows_json(const pg::Result& r) {
    Json a = Json::array();
    for (int row = 0; row < r.rows(); ++row)
        a.push_back(row_json(r, row));
    return a;
}

std::int64_t int_of(const Json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

}  // namespace

pg::Status read_status(pg::Connection& conn, const StatusOptions& o, Json& out) {
    out = Json::object();
    return conn.transaction(
        [&](pg::Connection& c) -> pg::Status {
            pg::Result t = c.exec(sql::k_throughput);
            if (!t.ok()) return t.status();
            out["throughput"] = t.rows() > 0 ? row_json(t, 0) : Json::object();

            pg::Result b = c.exec_params(sql::k_batch_health, o.batches);
            if (!b.ok()) return b.status();
            Json batches = rows_json(b);
            Json broken = Json::array();
            for (const Json& x : batches)
                if (!x.value("sequential", false)) broken.push_back(x);
            out["batches"] = Json{{"checked", batches.size()},
                                  {"sequential", batches.size() - broken.size()},
                                  {"not_sequential", broken.size()},
                                  {"broken", broken},
                                  {"newest", batches}};

            pg::Result p = c.exec(sql::k_pool_depth);
            if (!p.ok()) return p.status();
            Json pool = rows_json(p);
            std::int64_t depth = 0;
            for (const Json& x : pool)
                if (x.value("purpose", "") == "publish" && x.value("status", "") == "available" &&
                    int_of(x, "satoshis") == o.publish_value)
                    depth += int_of(x, "utxos");
            out["pool"] = Json{{"publish_available", depth},
                               {"seconds_at_ceiling", static_cast<double>(depth) / 166.67},
                               {"by_size", pool}};

            pg::Result e = c.exec_params(sql::k_error_rate, o.error_window_s);
            if (!e.ok()) return e.status();
            Json codes = rows_json(e);
            std::int64_t failed = 0;
            for (const Json& x : codes)
                failed += int_of(x, "failed");
            out["errors"] =
                Json{{"window_s", o.error_window_s}, {"failed", failed}, {"by_code", codes}};

            pg::Result s = c.exec(sql::k_stuck_sending);
            if (!s.ok()) return s.status();
            out["stuck_sending"] = s.rows() > 0 ? int_of(row_json(s, 0), "stuck_sending") : 0;
            return pg::Status::success();
        },
        pg::Isolation::repeatable_read);
}

namespace {

std::string cell(const Json& v) {
    if (v.is_null()) return "-";
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "NO";
    if (v.is_number_float()) {
        std::ostringstream s;
        s << v.get<double>();
        return s.str();
    }
    return v.dump();
}

// Rows of objects as a table with aligned columns.
void table(std::ostringstream& out, const std::string& title, const Json& rows) {
    if (!title.empty()) out << title << "\n";
    if (!rows.is_array() || rows.empty()) {
        out << "  (none)\n\n";
        return;
    }
    std::vector<std::string> keys;
    for (const auto& [k, v] : rows[0].items())
        keys.push_back(k);
    std::vector<std::size_t> width;
    for (const std::string& k : keys)
        width.push_back(k.size());
    for (const Json& r : rows)
        for (std::size_t i = 0; i < keys.size(); ++i)
            width[i] = std::max(width[i], cell(r.value(keys[i], Json())).size());
    auto line = [&](auto&& text_of) {
        out << " ";
        for (std::size_t i = 0; i < keys.size(); ++i) {
            const std::string t = text_of(i);
            out << " " << t << std::string(width[i] - t.size(), ' ');
        }
        out << "\n";
    };
    line([&](std::size_t i) { return keys[i]; });
    for (const Json& r : rows)
        line([&](std::size_t i) { return cell(r.value(keys[i], Json())); });
    out << "\n";
}

}  // namespace

std::string format_tables(const Json& report) {
    std::ostringstream out;
    const Json& t = report.value("throughput", Json::object());
    out << "Throughput: " << cell(t.value("sent_last_3s", Json())) << " sent in the last 3 s, "
        << cell(t.value("tx_per_sec", Json())) << " tx/s\n\n";
    const Json& b = report.value("batches", Json::object());
    out << "Batches: " << cell(b.value("checked", Json())) << " newest checked, "
        << cell(b.value("sequential", Json())) << " sequential, "
        << cell(b.value("not_sequential", Json())) << " not\n";
    table(out, "", b.value("newest", Json::array()));
    const Json& p = report.value("pool", Json::object());
    table(out, "Pool (" + cell(p.value("publish_available", Json())) + " publish UTXOs available):",
          p.value("by_size", Json::array()));
    const Json& e = report.value("errors", Json::object());
    table(out,
          "Errors in the last " + cell(e.value("window_s", Json())) +
              " s (failed: " + cell(e.value("failed", Json())) + "):",
          e.value("by_code", Json::array()));
    out << "Stuck sending (> 2 min): " << cell(report.value("stuck_sending", Json())) << "\n";
    return out.str();
}

}  // namespace raregen::status
