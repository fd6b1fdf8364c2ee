#pragma once
// A thin RAII layer over libpq: one connection, results that free
// themselves, parameterized statements and a transaction helper.
//
// Connection strings: anything libpq accepts, i.e. a URL
// (`postgres://user:pass@host:port/db?sslmode=require`, the DATABASE_URL
// form) or key=value pairs (`host=/tmp/dir port=5432 dbname=raregen`). A
// password may also come from a password file (PGPASSFILE semantics, handled
// by libpq: ConnectOptions::passfile, else $PGPASSFILE, else ~/.pgpass; the
// file must be mode 0600 or libpq ignores it) or from $PGPASSWORD. Prefer the
// file: a password in DATABASE_URL shows in the process environment.
//
// Secrets: no error this file produces contains a password, whichever of
// those places it came from. libpq's own messages can echo pieces of the
// connection string (a malformed URL, a bad percent-escape), so every
// message from a connection attempt goes through scrub_secrets() first.
// Never log a connection string itself; log describe_target(conninfo).
//
// Errors: connecting at start-up throws ConnectError (Connection::connect);
// code that reconnects at run time uses Connection::try_connect, which
// returns the error instead. Statements never throw: a Result carries the
// server's message and SQLSTATE.
//
// Threads: a Connection is used by one thread at a time (libpq's rule);
// different connections are independent. Every call that talks to the server
// blocks for a round trip, and everything here allocates: this is the
// write-behind's and start-up's tool, never a stage's hot path.

#include <libpq-fe.h>

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "storage/pg/secrets.h"

namespace raregen::pg {

// Outcome of an operation that can fail: ok, or what went wrong (never a
// password) and the server's SQLSTATE when the server reported it.
class Status {
  public:
    static Status success() { return Status{}; }
    static Status failure(std::string message, std::string sqlstate = {}) {
        Status s;
        s.m_failed = true;
        s.m_message = std::move(message);
        s.m_sqlstate = std::move(sqlstate);
        return s;
    }

    bool ok() const { return !m_failed; }
    const std::string& message() const { return m_message; }    // empty when ok
    const std::string& sqlstate() const { return m_sqlstate; }  // e.g. "23505"; may be empty

  private:
    bool m_failed = false;
    std::string m_message;
    std::string m_sqlstate;
};

// Thrown by Connection::connect (start-up only). what() is scrubbed.
class ConnectError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The result of one statement. Owns its PGresult (freed on destruction).
class Result {
  public:
    Result() = default;  // not ok: "no result"
    // Takes ownership of `res`; `fallback_error` is the message to report if
    // `res` is null (libpq returns null when the connection broke).
    Result(PGresult* res, std::string fallback_error);
    Result(Result&& other) noexcept;
    Result& operator=(Result&& other) noexcept;
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    ~Result();

    // True when the statement succeeded (PGRES_COMMAND_OK or PGRES_TUPLES_OK).
    bool ok() const;
    // ok() as a Status, carrying the message and SQLSTATE on failure.
    Status status() const;
    // The server's (or libpq's) message, without the trailing newline; empty when ok.
    std::string error() const;
    // Five-character SQLSTATE, e.g. "42P01"; empty if none.
    std::string_view sqlstate() const;

    int rows() const;
    int columns() const;
    // Rows changed by INSERT/UPDATE/DELETE (or returned by SELECT); 0 if none.
    std::uint64_t affected_rows() const;

    // Cell access, text format. Preconditions: 0 <= row < rows(), 0 <= col < columns().
    bool is_null(int row, int col) const;
    // The value as text; "" for NULL. Valid while this Result lives.
    std::string_view text(int row, int col) const;
    // The value parsed as a base-10 integer; nullopt for NULL or non-integers.
    std::optional<std::int64_t> int64(int row, int col) const;
    // A bytea value (hex text format) decoded; nullopt for NULL or bad input.
    std::optional<std::vector<std::uint8_t>> bytes(int row, int col) const;

    PGresult* native() const { return m_res; }

  private:
    PGresult* m_res = nullptr;
    std::string m_fallback_error;
};

// Binary data for a bytea parameter (sent in binary format, no escaping).
struct Binary {
    std::span<const std::uint8_t> data;
};

// One parameter of Connection::exec_params. Holds a view of text or bytes (the
// caller keeps them alive for the call) or a formatted integer inline.
// Supported: strings (std::string, std::string_view, const char*), integers,
// bool, Binary, std::nullopt / nullptr (SQL NULL) and std::optional<T> of those.
class Param {
  public:
    Param(std::nullptr_t) {}
    Param(std::nullopt_t) {}
    Param(const char* text) : m_ptr(text), m_len(text ? std::char_traits<char>::length(text) : 0) {}
    // Copied (libpq needs a terminating NUL that a view may lack).
    Param(std::string_view text)
        : m_ptr(text.data() ? text.data() : ""), m_len(text.size()), m_unterminated(true) {}
    Param(const std::string& text) : m_ptr(text.c_str()), m_len(text.size()) {}
    Param(Binary b)
        : m_ptr(reinterpret_cast<const char*>(b.data.data())),
          m_len(b.data.size()),
          m_binary(true) {
        if (m_ptr == nullptr) m_ptr = "";  // empty but not NULL
    }
    Param(bool v) { set_inline(v ? "true" : "false"); }
    template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>) Param(T v) {
        if constexpr (std::is_signed_v<T>) {
            format_signed(static_cast<std::int64_t>(v));
        } else {
            format_unsigned(static_cast<std::uint64_t>(v));
        }
    }
    template <class T>
    Param(const std::optional<T>& v) : Param(v ? Param(*v) : Param(nullptr)) {}

    bool is_null() const { return m_ptr == nullptr && m_inline_len == 0; }
    bool is_binary() const { return m_binary; }
    // True for a text view that may lack a terminating NUL (copied at the call).
    bool unterminated() const { return m_unterminated; }
    // Pointer libpq reads (null for SQL NULL). Valid while this Param lives.
    const char* data() const { return m_inline_len ? m_inline.data() : m_ptr; }
    std::size_t size() const { return m_inline_len ? m_inline_len : m_len; }

  private:
    void set_inline(std::string_view s);
    void format_signed(std::int64_t v);
    void format_unsigned(std::uint64_t v);

    const char* m_ptr = nullptr;
    std::size_t m_len = 0;
    bool m_binary = false;
    bool m_unterminated = false;
    // Integers are formatted here, so a Param can be copied without dangling.
    std::array<char, 24> m_inline{};
    std::size_t m_inline_len = 0;
};

struct ConnectOptions {
    // Password file to use (PGPASSFILE semantics); empty: libpq's default
    // ($PGPASSFILE, else ~/.pgpass). A value in the connection string is
    // overridden by this one.
    std::string passfile;
    // Seconds libpq waits for each connection attempt; used unless the
    // connection string sets connect_timeout itself.
    int connect_timeout_s = 10;
    // application_name shown in pg_stat_activity unless the string sets one.
    std::string application_name = "raregen";
};

enum class Isolation : std::uint8_t {
    read_committed,   // Postgres' default
    repeatable_read,  // one snapshot for the whole transaction
    serializable,     // may fail at commit with SQLSTATE 40001: retry the transaction
};

class Connection {
  public:
    // Connects or returns nullopt with `error` set (scrubbed; says what was
    // wrong and what to do). For run-time reconnects.
    static std::optional<Connection> try_connect(std::string_view conninfo, Status& error,
                                                 const ConnectOptions& options = {});
    // Connects or throws ConnectError with the same message. For start-up.
    static Connection connect(std::string_view conninfo, const ConnectOptions& options = {});

    Connection(Connection&& other) noexcept;
    Connection& operator=(Connection&& other) noexcept;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    // True while the connection is usable (PQstatus is CONNECTION_OK).
    bool ok() const;
    // Reconnects with the same parameters after the connection broke.
    Status reset();

    // Runs `sql`, which may hold several statements separated by ';' (the
    // simple query protocol; the Result is the last statement's). No parameters.
    Result exec(const char* sql);
    Result exec(const std::string& sql) { return exec(sql.c_str()); }

    // Runs one statement with $1..$n bound to `params` (text format except
    // Binary; parameter types are inferred by the server from the statement).
    template <class... Ts>
    Result exec_params(const char* sql, const Ts&... params) {
        const std::array<Param, sizeof...(Ts)> bound{Param(params)...};
        return exec_param_list(sql, bound);
    }
    template <class... Ts>
    Result exec_params(const std::string& sql, const Ts&... params) {
        return exec_params(sql.c_str(), params...);
    }
    Result exec_param_list(const char* sql, std::span<const Param> params);

    // Runs fn(*this) inside BEGIN ... COMMIT. fn returns a Status: on failure,
    // or if fn throws, the transaction is rolled back (and the exception
    // rethrown). Returns fn's failure, or the BEGIN/COMMIT failure (COMMIT can
    // fail, e.g. 40001 under serializable). Must not be called inside a
    // transaction already open on this connection.
    template <class Fn>
    Status transaction(Fn&& fn, Isolation isolation = Isolation::read_committed) {
        Status begun = begin(isolation);
        if (!begun.ok()) return begun;
        Status inner;
        try {
            inner = std::forward<Fn>(fn)(*this);
        } catch (...) {
            rollback();
            throw;
        }
        if (!inner.ok()) {
            rollback();
            return inner;
        }
        return commit();
    }

    // Quotes an identifier ("my table" -> "\"my table\"") for building SQL.
    std::string quote_identifier(std::string_view name) const;

    // The raw handle, for libpq calls this wrapper does not cover. Do not
    // PQfinish it.
    PGconn* native() const { return m_conn; }

  private:
    explicit Connection(PGconn* conn) : m_conn(conn) {}
    Status begin(Isolation isolation);
    Status commit();
    void rollback();

    PGconn* m_conn = nullptr;
};

}  // namespace raregen::pg
