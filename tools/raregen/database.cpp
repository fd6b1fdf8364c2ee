#include "tools/raregen/database.h"

#include <cstdlib>
#include <string>

#include "storage/pg/migrations.h"
#include "storage/pg/secrets.h"
#include "tools/raregen/common.h"

namespace raregen::cli {

std::optional<pg::Connection> open_database(int& exit_code, bool migrate) {
    const char* url = std::getenv("DATABASE_URL");
    if (url == nullptr || *url == '\0') {
        exit_code = usage_error(
            "DATABASE_URL is not set: set it to the PostgreSQL database the engines share, e.g. "
            "DATABASE_URL=postgres://user@host:5432/raregen (a password is better kept in "
            "~/.pgpass)");
        return std::nullopt;
    }
    pg::Status error;
    auto conn = pg::Connection::try_connect(url, error);
    if (!conn) {
        // try_connect's message is scrubbed of the password already.
        exit_code =
            usage_error("cannot connect to the database in DATABASE_URL: " + error.message());
        return std::nullopt;
    }
    if (migrate) {
        if (const pg::Status st = pg::migrate(*conn); !st.ok()) {
            exit_code = internal_error("bringing the database schema up to date failed: " +
                                       pg::scrub_secrets(st.message(), url));
            return std::nullopt;
        }
    }
    return conn;
}

}  // namespace raregen::cli
