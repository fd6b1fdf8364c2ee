#include "engine/chain/sighash.h"

#include <gtest/gtest.h>

#include "engine/chain/bytes.h"
#include "engine/chain/tx.h"
#include "tests/engine/chain/test_data.h"

namespace raregen::chain {
namespace {

// All 500 rows of shared/testdata/sighash_bip143.json: [raw_tx, script,
// input_index, hashType (signed 32-bit), expected digest byte-reversed],
// amount 0, BIP143 digest applied to every row.
TEST(Sighash, Bip143ReferenceVectors) {
    const auto rows = test::load_test_json("sighash_bip143.json");
    int checked = 0;
    for (const auto& row : rows) {
        if (row.size() != 5) continue;  // the header row
        const auto raw = from_hex(row[0].get<std::string>());
        const auto script = from_hex(row[1].get<std::string>());
        ASSERT_TRUE(raw && script);
        Transaction tx;
        const ParseResult pr = parse_transaction(*raw, tx);
        ASSERT_TRUE(pr.ok()) << parse_error_message(pr.code) << " in row " << checked;
        EXPECT_EQ(serialize(tx), *raw) << "round trip, row " << checked;
        const auto index = row[2].get<std::size_t>();
        const auto type = static_cast<std::uint32_t>(row[3].get<std::int32_t>());
        const Hash256 digest = signature_hash(tx, index, *script, 0, type);
        EXPECT_EQ(hash_to_display(digest), row[4].get<std::string>())
            << "row " << checked << " type " << type;
        ++checked;
    }
    EXPECT_EQ(checked, 500);
}

TEST(Sighash, CacheMatchesPerCallComputation) {
    const auto rows = test::load_test_json("sighash_bip143.json");
    const auto& row = rows[1];
    Transaction tx;
    ASSERT_TRUE(parse_transaction(*from_hex(row[0].get<std::string>()), tx).ok());
    const SighashCache cache = SighashCache::compute(tx);
    const auto script = *from_hex(row[1].get<std::string>());
    for (std::size_t i = 0; i < tx.inputs.size(); ++i) {
        for (std::uint32_t type : {0x41u, 0x42u, 0x43u, 0xc1u, 0xc2u, 0xc3u}) {
            EXPECT_EQ(signature_hash(tx, cache, i, script, 1234, type),
                      signature_hash(tx, i, script, 1234, type));
        }
    }
}

}  // namespace
}  // namespace raregen::chain
