#pragma once
// Shared by the pool tests: a fresh migrated database per test, made-up
// outpoints, and counting rows.

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/hash.h"
#include "engine/chain/publication.h"
#include "storage/pg/connection.h"
#include "storage/pg/migrations.h"
#include "storage/pool/utxo_pool.h"
#include "tests/storage/pg/pg_test_env.h"

namespace raregen::pool::testing {

// Outpoint number i: a txid made from i (so every i differs) and vout i % 3.
inline chain::Utxo make_utxo(std::uint64_t i, std::int64_t value = 100) {
    chain::Utxo u;
    for (int b = 0; b < 8; ++b)
        u.outpoint.txid[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(i >> (8 * b));
    u.outpoint.txid[31] = 0xab;
    u.outpoint.vout = static_cast<std::uint32_t>(i % 3);
    u.value = value;
    return u;
}

inline std::vector<ImportUtxo> make_imports(std::uint64_t first, std::uint64_t n) {
    std::vector<ImportUtxo> out;
    for (std::uint64_t i = first; i < first + n; ++i)
        out.push_back(ImportUtxo{make_utxo(i), std::nullopt, std::nullopt});
    return out;
}

inline std::string display_txid(const chain::Utxo& u) {
    return chain::to_hex_reversed(u.outpoint.txid);
}

inline std::string key_of(const chain::Utxo& u) {
    return display_txid(u) + ":" + std::to_string(u.outpoint.vout);
}

class PoolTest : public pg::testing::PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        if (HasFatalFailure()) return;
        m_conninfo = fresh_database();
        m_conn.emplace(connect(m_conninfo));
        const pg::Status st = pg::migrate(*m_conn);
        ASSERT_TRUE(st.ok()) << st.message();
    }

    pg::Connection& conn() { return *m_conn; }

    // Imports n publish UTXOs numbered first..first+n-1.
    void seed(std::uint64_t first, std::uint64_t n, Purpose purpose = Purpose::publish) {
        const auto imports = make_imports(first, n);
        const auto r = import_utxos(conn(), imports, purpose);
        ASSERT_TRUE(r.ok()) << r.status.message();
        ASSERT_EQ(r.value.inserted, n);
    }

    // A single integer from `sql`.
    std::int64_t scalar(const std::string& sql) {
        pg::Result r = conn().exec(sql);
        EXPECT_TRUE(r.ok()) << r.error() << "\n" << sql;
        if (!r.ok() || r.rows() != 1) return -1;
        return r.int64(0, 0).value_or(-1);
    }

    std::int64_t count_where(const std::string& where) {
        return scalar("SELECT count(*) FROM utxos WHERE " + where);
    }

    // Column `col` of the row of `u` ("" for NULL).
    std::string column_of(const chain::Utxo& u, const std::string& col) {
        pg::Result r =
            conn().exec_params("SELECT " + col + " FROM utxos WHERE txid = $1 AND vout = $2",
                               display_txid(u), std::int64_t{u.outpoint.vout});
        EXPECT_TRUE(r.ok()) << r.error();
        if (!r.ok() || r.rows() != 1) return "<no row>";
        return std::string(r.text(0, 0));
    }

    // A job whose signed transaction (txid `spender`) spends `u`.
    void add_durable_job(const std::string& job_id, const chain::Utxo& u,
                         const std::string& spender) {
        const std::string hash = chain::to_hex(chain::sha256(
            chain::ByteSpan(reinterpret_cast<const std::uint8_t*>(job_id.data()), job_id.size())));
        pg::Result r = conn().exec_params(
            "INSERT INTO publish_jobs (job_id, record_id, record_canonical, record_hash, status, "
            "txid, signed_tx, spent_txid, spent_vout) VALUES ($1, $1, '{}', $2, 'sending', $3, "
            "'\\x0100'::bytea, $4, $5)",
            job_id, hash, spender, display_txid(u), std::int64_t{u.outpoint.vout});
        ASSERT_TRUE(r.ok()) << r.error();
    }

    std::string m_conninfo;
    std::optional<pg::Connection> m_conn;
};

}  // namespace raregen::pool::testing
