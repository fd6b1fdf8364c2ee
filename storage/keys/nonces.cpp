#include "storage/keys/nonces.h"

#include <cstdint>
#include <limits>
#include <optional>

#include "storage/keys/signers.h"

namespace raregen::keys {

namespace {

constexpr const char* k_cursor = "raregen_nonce_load";

// seen_at as microseconds since the Unix epoch (timestamptz's precision);
// NULL for +/-infinity, which cannot be cast to bigint. Newest first: see the
// header for why the order matters.
constexpr const char* k_declare =
    "DECLARE raregen_nonce_load NO SCROLL CURSOR FOR "
    "SELECT pubkey_hex, nonce, "
    "       CASE WHEN isfinite(seen_at) THEN (extract(epoch FROM seen_at) * 1000000)::bigint END "
    "  FROM nonces "
    " WHERE seen_at > now() - $1::bigint * interval '1 microsecond' "
    " ORDER BY seen_at DESC";

ingest::WallTime wall_from_micros(std::optional<std::int64_t> micros) {
    using Limits = std::numeric_limits<std::int64_t>;
    // Only an infinite or absurdly far future seen_at gets here without a
    // value; clamping keeps such a nonce remembered rather than dropped.
    std::int64_t ns = Limits::max();
    if (micros && *micros <= Limits::max() / 1000 && *micros >= Limits::min() / 1000 + 1) {
        ns = *micros * 1000;
    }
    return ingest::WallTime{std::chrono::nanoseconds{ns}};
}

std::string shorten(std::string_view s) {
    return s.size() <= 70 ? std::string(s) : std::string(s.substr(0, 67)) + "...";
}

}  // namespace

NonceLoad load_recent_nonces(pg::Connection& conn, ingest::InMemoryNonceStore& store,
                             std::chrono::nanoseconds retention, const NonceLoadOptions& options) {
    NonceLoad out;
    if (retention.count() <= 0) {
        out.error = "nonce load: retention must be positive (max age + future skew)";
        return out;
    }
    if (options.page_rows == 0) {
        out.error = "nonce load: page_rows must be at least 1";
        return out;
    }
    const auto retention_us = std::chrono::duration_cast<std::chrono::microseconds>(retention);
    const std::string fetch =
        "FETCH FORWARD " + std::to_string(options.page_rows) + " FROM " + std::string(k_cursor);
    std::string why;

    const pg::Status st = conn.transaction([&](pg::Connection& c) -> pg::Status {
        if (pg::Result ro = c.exec("SET TRANSACTION READ ONLY"); !ro.ok()) return ro.status();
        pg::Result declared = c.exec_params(k_declare, retention_us.count());
        if (!declared.ok()) return declared.status();
        for (;;) {
            pg::Result page = c.exec(fetch);
            if (!page.ok()) return page.status();
            if (page.rows() == 0) return pg::Status::success();
            ++out.pages;
            for (int row = 0; row < page.rows(); ++row) {
                const std::string_view hex = page.text(row, 0);
                const auto key = parse_compressed_pubkey(hex, &why);
                if (page.is_null(row, 0) || page.is_null(row, 1) || !key) {
                    ++out.invalid;
                    if (out.problems.size() < k_max_reported_problems) {
                        out.problems.push_back("nonces: skipped a row: " +
                                               (page.is_null(row, 0)
                                                    ? std::string("pubkey_hex is NULL")
                                                : key ? std::string("nonce is NULL")
                                                      : why) +
                                               " (nonce '" + shorten(page.text(row, 1)) + "')");
                    }
                    continue;
                }
                const ingest::NonceRecord rec =
                    store.record(*key, page.text(row, 1), wall_from_micros(page.int64(row, 2)));
                switch (rec) {
                    case ingest::NonceRecord::recorded:
                        ++out.loaded;
                        break;
                    case ingest::NonceRecord::replay:
                        ++out.duplicates;
                        break;
                    case ingest::NonceRecord::full:
                        out.full = true;
                        return pg::Status::failure(
                            "the nonce store is full after loading " + std::to_string(out.loaded) +
                            " recent nonces (" + std::to_string(store.slot_count()) +
                            " slots); raise the nonce capacity so it holds every nonce seen "
                            "within the retention, and start again");
                }
            }
        }
    });
    if (!st.ok()) {
        out.error = out.full ? st.message()
                             : "cannot load recent nonces (table nonces): " + st.message() +
                                   "; check the database is reachable and migrated";
    }
    return out;
}

}  // namespace raregen::keys
