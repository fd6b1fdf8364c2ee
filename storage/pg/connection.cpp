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

constexpr std::string_view k_mask = "***";

std::string trim_trailing(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
        s.remove_suffix(1);
    }
    return std::string(s);
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        const char a = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
        if (a != prefix[i]) return false;
    }
    return true;
}

bool is_url(std::string_view conninfo) {
    return starts_with_ci(conninfo, "postgres://") || starts_with_ci(conninfo, "postgresql://");
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// %XX decoded; an invalid escape is kept as written.
std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            const int hi = hex_value(s[i + 1]);
            const int lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(s[i]);
    }
    return out;
}

void add_candidate(std::vector<std::string>& out, std::string_view raw) {
    if (raw.empty()) return;
    out.emplace_back(raw);
    std::string decoded = percent_decode(raw);
    if (decoded != raw && !decoded.empty()) out.push_back(std::move(decoded));
}

// The value of a key=value pair starting at `pos`: '...' with backslash
// escapes, or up to the next whitespace.
std::string read_conninfo_value(std::string_view s, std::size_t pos) {
    std::string value;
    if (pos < s.size() && s[pos] == '\'') {
        for (std::size_t i = pos + 1; i < s.size(); ++i) {
            if (s[i] == '\\' && i + 1 < s.size()) {
                value.push_back(s[++i]);
            } else if (s[i] == '\'') {
                break;
            } else {
                value.push_back(s[i]);
            }
        }
        return value;
    }
    for (std::size_t i = pos; i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\n'; ++i) {
        value.push_back(s[i]);
    }
    return value;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Every string that may be (part of) the password written in `conninfo`,
// found without trusting libpq to parse it: the URL's user-info password (as
// libpq reads it and up to the last '@'), every `password=` value (as a
// key=value pair and as a URL query parameter), raw and percent-decoded.
void raw_password_candidates(std::string_view ci, std::vector<std::string>& out) {
    if (const std::size_t scheme = ci.find("://"); scheme != std::string_view::npos) {
        const std::size_t start = scheme + 3;
        // libpq: the user info ends at the first '@', unless a '/' comes first.
        const std::size_t stop = ci.find_first_of("@/", start);
        if (stop != std::string_view::npos && ci[stop] == '@') {
            const std::string_view userinfo = ci.substr(start, stop - start);
            if (const std::size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
                add_candidate(out, userinfo.substr(colon + 1));
            }
        }
        // A password with an unencoded '/' or '@': up to the last '@'.
        if (const std::size_t last_at = ci.rfind('@');
            last_at != std::string_view::npos && last_at > start) {
            const std::string_view userinfo = ci.substr(start, last_at - start);
            if (const std::size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
                add_candidate(out, userinfo.substr(colon + 1));
            }
        }
    }
    constexpr std::string_view key = "password";
    for (std::size_t at = 0; (at = ci.find(key, at)) != std::string_view::npos; at += key.size()) {
        std::size_t p = at + key.size();
        while (p < ci.size() && is_space(ci[p]))
            ++p;
        if (p >= ci.size() || ci[p] != '=') continue;
        ++p;
        while (p < ci.size() && is_space(ci[p]))
            ++p;
        const std::string value = read_conninfo_value(ci, p);
        add_candidate(out, value);
        // As a URL query parameter the value ends at '&'.
        if (const std::size_t amp = value.find('&'); amp != std::string::npos) {
            add_candidate(out, std::string_view(value).substr(0, amp));
        }
    }
}

// The password libpq itself parses out of `conninfo`, if it can parse it.
void parsed_password(const std::string& ci, std::vector<std::string>& out) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(ci.c_str(), &err);
    if (err != nullptr) PQfreemem(err);
    if (opts == nullptr) return;
    for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
        if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr && *o->val != '\0') {
            out.emplace_back(o->val);
        }
    }
    PQconninfoFree(opts);
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
    if (what.empty()) return;
    for (std::size_t at = 0; (at = s.find(what, at)) != std::string::npos; at += with.size()) {
        s.replace(at, what.size(), with);
    }
}

// `password = value` in the message itself (whatever conninfo it came from).
void mask_password_pairs(std::string& s) {
    constexpr std::string_view key = "password";
    for (std::size_t at = 0; (at = s.find(key, at)) != std::string::npos; at += key.size()) {
        std::size_t p = at + key.size();
        while (p < s.size() && is_space(s[p]))
            ++p;
        if (p >= s.size() || s[p] != '=') continue;
        ++p;
        while (p < s.size() && is_space(s[p]))
            ++p;
        std::size_t end = p;
        if (end < s.size() && s[end] == '\'') {
            for (++end; end < s.size() && s[end] != '\''; ++end) {
                if (s[end] == '\\') ++end;
            }
            end = std::min(end + 1, s.size());
        } else {
            while (end < s.size() && !is_space(s[end]) && s[end] != '&' && s[end] != '"')
                ++end;
        }
        if (end > p) s.replace(p, end - p, k_mask);
    }
}

// `scheme://user:secret@host` in the message: the part between ':' and the
// last '@' of the authority is masked.
void mask_url_userinfo(std::string& s) {
    for (std::size_t at = 0; (at = s.find("://", at)) != std::string::npos; at += 3) {
        const std::size_t start = at + 3;
        std::size_t end = start;
        while (end < s.size() && !is_space(s[end]) && s[end] != '"' && s[end] != '/')
            ++end;
        const std::size_t last_at = s.rfind('@', end - 1);
        if (last_at == std::string::npos || last_at < start) continue;
        const std::size_t colon = s.find(':', start);
        if (colon == std::string::npos || colon >= last_at) continue;
        s.replace(colon + 1, last_at - colon - 1, k_mask);
    }
}

// Masks the content of every "..." fragment (libpq quotes the pieces of a
// connection string it echoes) for which `masked(content)` is true.
template <class Pred>
void mask_quoted(std::string& s, Pred masked) {
    std::size_t at = 0;
    while ((at = s.find('"', at)) != std::string::npos) {
        const std::size_t close = s.find('"', at + 1);
        if (close == std::string::npos) break;
        const std::string_view content(s.data() + at + 1, close - at - 1);
        if (!content.empty() && content != k_mask && masked(content)) {
            s.replace(at + 1, close - at - 1, k_mask);
            at += k_mask.size() + 2;
        } else {
            at = close + 1;
        }
    }
}

std::string scrub_with(std::string_view message, std::vector<std::string> secrets) {
    std::string s(message);
    // Longest first, so a secret is not left half-masked by a shorter one.
    std::sort(secrets.begin(), secrets.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    secrets.erase(std::unique(secrets.begin(), secrets.end()), secrets.end());
    for (const std::string& secret : secrets)
        replace_all(s, secret, k_mask);
    // A quoted fragment that is a piece of a password (libpq misreading a URL
    // can echo one as a host, port or database name).
    mask_quoted(s, [&](std::string_view content) {
        if (content.size() < 2) return false;
        return std::any_of(secrets.begin(), secrets.end(), [&](const std::string& secret) {
            return secret.find(content) != std::string::npos;
        });
    });
    mask_password_pairs(s);
    mask_url_userinfo(s);
    return s;
}

std::vector<std::string> secrets_of(std::string_view conninfo) {
    std::vector<std::string> secrets;
    raw_password_candidates(conninfo, secrets);
    parsed_password(std::string(conninfo), secrets);
    return secrets;
}

// True if a URL's user info holds an unencoded '@' or '/': libpq would then
// take part of the password for the host, port or database name.
bool url_userinfo_ambiguous(std::string_view ci) {
    if (!is_url(ci)) return false;
    const std::size_t start = ci.find("://") + 3;
    const std::size_t query = ci.find('?', start);
    const std::string_view rest =
        ci.substr(start, (query == std::string_view::npos ? ci.size() : query) - start);
    const std::size_t first_at = rest.find('@');
    if (first_at == std::string_view::npos) return false;
    if (first_at != rest.rfind('@')) return true;
    const std::size_t slash = rest.find('/');
    return slash != std::string_view::npos && slash < first_at;
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
        mask_quoted(msg, [](std::string_view) { return true; });
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

// ---- free functions ------------------------------------------------------------

std::string scrub_secrets(std::string_view message, std::string_view conninfo) {
    return scrub_with(message, secrets_of(conninfo));
}

std::string scrub_secrets(std::string_view message, std::string_view conninfo,
                          std::span<const std::string> extra_secrets) {
    std::vector<std::string> secrets = secrets_of(conninfo);
    for (const std::string& s : extra_secrets)
        add_candidate(secrets, s);
    return scrub_with(message, std::move(secrets));
}

std::string describe_target(std::string_view conninfo) {
    const std::string ci(conninfo);
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(ci.c_str(), &err);
    if (err != nullptr) PQfreemem(err);
    if (opts == nullptr) return "(unparseable connection string)";
    std::string out;
    for (const char* key : {"host", "hostaddr", "port", "dbname", "user"}) {
        for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
            if (std::strcmp(o->keyword, key) == 0 && o->val != nullptr && *o->val != '\0') {
                if (!out.empty()) out += ' ';
                out += key;
                out += '=';
                out += quote_conninfo_value(o->val);
            }
        }
    }
    PQconninfoFree(opts);
    if (out.empty()) out = "libpq defaults";
    return scrub_secrets(out, conninfo);
}

std::string quote_conninfo_value(std::string_view value) {
    const bool needs = value.empty() || value.find_first_of(" \t\n\r'\\") != std::string_view::npos;
    if (!needs) return std::string(value);
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    out += '\'';
    return out;
}

}  // namespace raregen::pg
