#include "storage/pg/connection.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>

namespace raregen::pg {
namespace {

std::string trim_trailing(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
        s.remove_suffix(1);
    }
    return std::string(s);
}

void on_notice(void*, const PGresult* res) {
    // NOTICEs (e.g. "relation already exists, skipping") are routine; a
    // WARNING is worth seeing. Server messages never carry the password.
    const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity != nullptr && std::strcmp(severity, "WARNING") == 0) {
        std::fprintf(stderr, "raregen: PostgreSQL %s", PQresultErrorMessage(res));
    }
}

// Checks a password file the way libpq will use it, so a mistake is reported
// instead of silently ignored (libpq skips a missing or readable-by-others file).
Status check_passfile(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return Status::failure("password file '" + path + "': " + std::strerror(errno) +
                               "; create it (lines host:port:db:user:password) or fix the path");
    }
    if (!S_ISREG(st.st_mode)) {
        return Status::failure("password file '" + path + "' is not a regular file");
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        return Status::failure("password file '" + path +
                               "' is readable by group or others, so libpq would ignore it: "
                               "run chmod 600 on it");
    }
    return Status::success();
}

}  // namespace

// ---- Result ------------------------------------------------------------------

Result::Result(PGresult* res, std::string fallback_error)
    : m_res(res), m_fallback_error(std::move(fallback_error)) {}

Result::Result(Result&& other) noexcept
    : m_res(std::exchange(other.m_res, nullptr)),
      m_fallback_error(std::move(other.m_fallback_error)) {}

Result& Result::operator=(Result&& other) noexcept {
    if (this != &other) {
        if (m_res != nullptr) PQclear(m_res);
        m_res = std::exchange(other.m_res, nullptr);
        m_fallback_error = std::move(other.m_fallback_error);
    }
    return *this;
}

Result::~Result() {
    if (m_res != nullptr) PQclear(m_res);
}

bool Result::ok() const {
    if (m_res == nullptr) return false;
    const ExecStatusType st = PQresultStatus(m_res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

Status Result::status() const {
    if (ok()) return Status::success();
    return Status::failure(error(), std::string(sqlstate()));
}

std::string Result::error() const {
    if (ok()) return {};
    if (m_res == nullptr) {
        return m_fallback_error.empty() ? std::string("no result from PostgreSQL")
                                        : trim_trailing(m_fallback_error);
    }
    std::string msg = trim_trailing(PQresultErrorMessage(m_res));
    if (msg.empty())
        msg = std::string("unexpected result status ") + PQresStatus(PQresultStatus(m_res));
    return msg;
}

std::string_view Result::sqlstate() const {
    if (m_res == nullptr) return {};
    const char* s = PQresultErrorField(m_res, PG_DIAG_SQLSTATE);
    return s != nullptr ? std::string_view(s) : std::string_view{};
}

int Result::rows() const {
    return m_res != nullptr ? PQntuples(m_res) : 0;
}
int Result::columns() const {
    return m_res != nullptr ? PQnfields(m_res) : 0;
}

std::uint64_t Result::affected_rows() const {
    if (m_res == nullptr) return 0;
    const std::string_view s = PQcmdTuples(m_res);
    std::uint64_t n = 0;
    std::from_chars(s.data(), s.data() + s.size(), n);
    return n;
}

bool Result::is_null(int row, int col) const {
    return PQgetisnull(m_res, row, col) != 0;
}

std::string_view Result::text(int row, int col) const {
    const char* v = PQgetvalue(m_res, row, col);
    return std::string_view(v, static_cast<std::size_t>(PQgetlength(m_res, row, col)));
}

std::optional<std::int64_t> Result::int64(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    const std::string_view s = text(row, col);
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<std::vector<std::uint8_t>> Result::bytes(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    std::size_t len = 0;
    unsigned char* raw =
        PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(m_res, row, col)), &len);
    if (raw == nullptr) return std::nullopt;
    std::vector<std::uint8_t> out(raw, raw + len);
    PQfreemem(raw);
    return out;
}

// ---- Param ---------------------------------------------------------------------

void Param::set_inline(std::string_view s) {
    std::memcpy(m_inline.data(), s.data(), s.size());
    m_inline[s.size()] = '\0';
    m_inline_len = s.size();
}

void Param::format_signed(std::int64_t v) {
    const auto r = std::to_chars(m_inline.data(), m_inline.data() + m_inline.size() - 1, v);
    *r.ptr = '\0';
    m_inline_len = static_cast<std::size_t>(r.ptr - m_inline.data());
}

void Param::format_unsigned(std::uint64_t v) {
    const auto r = std::to_chars(m_inline.data(), m_inline.data() + m_inline.size() - 1, v);
    *r.ptr = '\0';
    m_inline_len = static_cast<std::size_t>(r.ptr - m_inline.data());
}

// ---- Connection ------------------------------------------------------------------

std::optional<Connection> Connection::try_connect(std::string_view conninfo, Status& error,
                                                  const ConnectOptions& options) {
    const std::string ci(conninfo);
    constexpr const char* k_forms =
        "use postgres://user:password@host:port/dbname (percent-encode special characters) "
        "or key=value pairs (quote values with spaces: password='a b')";

    char* parse_error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(ci.c_str(), &parse_error);
    if (parsed == nullptr) {
        std::string msg = parse_error != nullptr ? trim_trailing(parse_error) : "out of memory";
        if (parse_error != nullptr) PQfreemem(parse_error);
        // libpq quotes the fragment it choked on, which may be any part of the
        // string: hide every quoted fragment, then anything else secret.
        mask_quoted_fragments(msg);
        error = Status::failure("the PostgreSQL connection string is malformed (" +
                                scrub_secrets(msg, ci) + "): " + k_forms);
        return std::nullopt;
    }
    PQconninfoFree(parsed);
    if (url_userinfo_ambiguous(ci)) {
        error = Status::failure(
            "the PostgreSQL URL's user name or password contains an unencoded '@' or '/', "
            "which libpq would misread: percent-encode it ('@' is %40, '/' is %2F), or use "
            "key=value pairs or a password file");
        return std::nullopt;
    }
    if (!options.passfile.empty()) {
        Status st = check_passfile(options.passfile);
        if (!st.ok()) {
            error = std::move(st);
            return std::nullopt;
        }
    }

    // Keywords are applied in order and a later one wins: defaults go before
    // the expanded string (so the string can override them), the explicit
    // passfile after it.
    const std::string timeout = std::to_string(options.connect_timeout_s);
    std::vector<const char*> keys;
    std::vector<const char*> values;
    keys.push_back("connect_timeout");
    values.push_back(timeout.c_str());
    keys.push_back("fallback_application_name");
    values.push_back(options.application_name.c_str());
    keys.push_back("client_encoding");
    values.push_back("UTF8");
    keys.push_back("dbname");
    values.push_back(ci.c_str());
    if (!options.passfile.empty()) {
        keys.push_back("passfile");
        values.push_back(options.passfile.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);

    PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 1);
    if (conn == nullptr) {
        error = Status::failure("could not connect to PostgreSQL: out of memory");
        return std::nullopt;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        // The password libpq used may have come from a file or $PGPASSWORD.
        std::vector<std::string> extra;
        if (const char* used = PQpass(conn); used != nullptr && *used != '\0')
            extra.emplace_back(used);
        const std::string raw = trim_trailing(PQerrorMessage(conn));
        PQfinish(conn);
        error = Status::failure(
            scrub_secrets("could not connect to PostgreSQL (" + describe_target(ci) + "): " + raw,
                          ci, extra) +
            ". Check DATABASE_URL (or the connection string), that the server "
            "is running and reachable, and the user's password");
        return std::nullopt;
    }
    PQsetNoticeReceiver(conn, on_notice, nullptr);
    return Connection(conn);
}

Connection Connection::connect(std::string_view conninfo, const ConnectOptions& options) {
    Status error;
    std::optional<Connection> c = try_connect(conninfo, error, options);
    if (!c) throw ConnectError(error.message());
    return std::move(*c);
}

Connection::Connection(Connection&& other) noexcept
    : m_conn(std::exchange(other.m_conn, nullptr)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
    if (this != &other) {
        if (m_conn != nullptr) PQfinish(m_conn);
        m_conn = std::exchange(other.m_conn, nullptr);
    }
    return *this;
}

Connection::~Connection() {
    if (m_conn != nullptr) PQfinish(m_conn);
}

bool Connection::ok() const {
    return m_conn != nullptr && PQstatus(m_conn) == CONNECTION_OK;
}

Status Connection::reset() {
    if (m_conn == nullptr) return Status::failure("reset() on a moved-from connection");
    PQreset(m_conn);
    if (PQstatus(m_conn) == CONNECTION_OK) return Status::success();
    std::vector<std::string> extra;
    if (const char* used = PQpass(m_conn); used != nullptr && *used != '\0')
        extra.emplace_back(used);
    return Status::failure("could not reconnect to PostgreSQL: " +
                           scrub_secrets(trim_trailing(PQerrorMessage(m_conn)), "", extra));
}

Result Connection::exec(const char* sql) {
    PGresult* r = PQexec(m_conn, sql);
    return Result(r, r == nullptr ? std::string(PQerrorMessage(m_conn)) : std::string());
}

Result Connection::exec_param_list(const char* sql, std::span<const Param> params) {
    const std::size_t n = params.size();
    std::vector<const char*> values(n);
    std::vector<int> lengths(n);
    std::vector<int> formats(n);
    std::vector<std::string> copies;
    copies.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const Param& p = params[i];
        lengths[i] = static_cast<int>(p.size());
        formats[i] = p.is_binary() ? 1 : 0;
        if (p.is_null()) {
            values[i] = nullptr;
        } else if (p.unterminated()) {
            copies.emplace_back(p.data(), p.size());
            values[i] = copies.back().c_str();
        } else {
            values[i] = p.data();
        }
    }
    PGresult* r = PQexecParams(m_conn, sql, static_cast<int>(n), nullptr, values.data(),
                               lengths.data(), formats.data(), 0);
    return Result(r, r == nullptr ? std::string(PQerrorMessage(m_conn)) : std::string());
}

Status Connection::begin(Isolation isolation) {
    if (PQtransactionStatus(m_conn) != PQTRANS_IDLE) {
        return Status::failure(
            "transaction(): this connection is already in a transaction (or busy); finish it "
            "first");
    }
    const char* sql = "BEGIN";
    switch (isolation) {
        case Isolation::read_committed:
            sql = "BEGIN ISOLATION LEVEL READ COMMITTED";
            break;
        case Isolation::repeatable_read:
            sql = "BEGIN ISOLATION LEVEL REPEATABLE READ";
            break;
        case Isolation::serializable:
            sql = "BEGIN ISOLATION LEVEL SERIALIZABLE";
            break;
    }
    return exec(sql).status();
}

Status Connection::commit() {
    // COMMIT of a transaction in which a statement failed silently rolls back
    // and reports success; catch that case first.
    if (PQtransactionStatus(m_conn) == PQTRANS_INERROR) {
        rollback();
        return Status::failure(
            "a statement in the transaction failed (its error was not returned by the callback); "
            "the transaction was rolled back");
    }
    Result r = exec("COMMIT");
    if (!r.ok()) {
        Status st = r.status();
        rollback();
        return st;
    }
    return Status::success();
}

void Connection::rollback() {
    if (PQtransactionStatus(m_conn) != PQTRANS_IDLE) exec("ROLLBACK");
}

std::string Connection::quote_identifier(std::string_view name) const {
    char* q = PQescapeIdentifier(m_conn, name.data(), name.size());
    if (q == nullptr) return {};
    std::string out(q);
    PQfreemem(q);
    return out;
}

}  // namespace raregen::pg
