// `raregen tx sighash` against the BIP143 reference rows (including negative
// types, cast to uint32) and the reference spend's digest.

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/tools/raregen/cli_runner.h"

namespace raregen::test {
namespace {

struct Row {
    std::string tx, script;
    int input;
    long long type;
    std::string expected_display;
};

// Rows [raw_tx, script, input_index, hashType, expected (byte-reversed)];
// the first element of the file is a header.
std::vector<Row> rows() {
    std::vector<Row> out;
    for (const auto& r : load_test_json("sighash_bip143.json")) {
        if (r.size() != 5) continue;
        out.push_back({r[0].get<std::string>(), r[1].get<std::string>(), r[2].get<int>(),
                       r[3].get<long long>(), r[4].get<std::string>()});
    }
    return out;
}

CliResult sighash(const Row& row, const std::string& type) {
    return run_cli({"tx", "sighash", "--tx", row.tx, "--input", std::to_string(row.input),
                    "--script", row.script, "--amount", "0", "--type=" + type});
}

TEST(TxSighash, MatchesReferenceRowsWithPositiveAndNegativeTypes) {
    const auto all = rows();
    ASSERT_GT(all.size(), 400u);
    std::vector<Row> picked;
    int positive = 0, negative = 0;
    for (const Row& r : all) {
        if (r.type >= 0 && positive < 3) {
            picked.push_back(r);
            ++positive;
        } else if (r.type < 0 && negative < 3) {
            picked.push_back(r);
            ++negative;
        }
    }
    ASSERT_EQ(negative, 3);
    ASSERT_EQ(positive, 3);
    for (const Row& r : picked) {
        const CliResult res = sighash(r, std::to_string(r.type));
        ASSERT_EQ(res.exit_code, 0) << res.err;
        const auto j = res.json();
        EXPECT_EQ(j["digest_display"], r.expected_display) << "type " << r.type;
        // digest_internal is the same bytes in the other order.
        std::string internal = j["digest_internal"];
        std::string reversed;
        for (std::size_t i = internal.size(); i >= 2; i -= 2)
            reversed += internal.substr(i - 2, 2);
        EXPECT_EQ(reversed, r.expected_display);
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%08x",
                      static_cast<unsigned>(static_cast<std::uint32_t>(r.type)));
        EXPECT_EQ(j["type"], hex);
    }
}

TEST(TxSighash, NegativeTypeEqualsItsUint32HexForm) {
    for (const Row& r : rows()) {
        if (r.type >= 0) continue;
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%x",
                      static_cast<unsigned>(static_cast<std::uint32_t>(r.type)));
        const CliResult res = sighash(r, hex);
        ASSERT_EQ(res.exit_code, 0) << res.err;
        EXPECT_EQ(res.json()["digest_display"], r.expected_display);
        // The space-separated form also takes a negative number as the value.
        const CliResult spaced =
            run_cli({"tx", "sighash", "--tx", r.tx, "--input", std::to_string(r.input), "--script",
                     r.script, "--amount", "0", "--type", std::to_string(r.type)});
        ASSERT_EQ(spaced.exit_code, 0) << spaced.err;
        EXPECT_EQ(spaced.json()["digest_display"], r.expected_display);
        break;
    }
}

TEST(TxSighash, ReferenceSpendDigest) {
    const auto v = load_test_json("vectors.json")["p2pkh_spend_forkid"];
    const CliResult r =
        run_cli({"tx", "sighash", "--tx", v["unsigned_tx"], "--input", "0", "--script",
                 v["spent_output"]["locking_script"], "--amount",
                 std::to_string(v["spent_output"]["satoshis"].get<long long>()), "--type", "65"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.json()["digest_internal"], v["sighash_internal"]);
    EXPECT_EQ(r.json()["input"], 0);
}

TEST(TxSighash, InputOutOfRangeExits2) {
    const auto v = load_test_json("vectors.json")["p2pkh_spend_forkid"];
    const CliResult r = run_cli({"tx", "sighash", "--tx", v["unsigned_tx"], "--input", "1",
                                 "--script", "00", "--amount", "1"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--input 1 is out of range"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("1 input"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
}

TEST(TxSighash, BadTypeExits2) {
    const auto v = load_test_json("vectors.json")["p2pkh_spend_forkid"];
    for (const char* bad : {"all", "0x1ffffffff", "4294967296", "-2147483649", "0x", "12abc"}) {
        const CliResult r =
            run_cli({"tx", "sighash", "--tx", v["unsigned_tx"], "--input", "0", "--script", "00",
                     "--amount", "1", std::string("--type=") + bad});
        EXPECT_EQ(r.exit_code, 2) << bad;
        EXPECT_NE(r.err.find("is not a sighash type"), std::string::npos) << r.err;
    }
}

TEST(TxSighash, ScriptAndAmountRequiredUnlessEf) {
    const auto v = load_test_json("vectors.json")["p2pkh_spend_forkid"];
    CliResult r =
        run_cli({"tx", "sighash", "--tx", v["unsigned_tx"], "--input", "0", "--amount", "1"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--script is required"), std::string::npos) << r.err;
    r = run_cli({"tx", "sighash", "--tx", v["unsigned_tx"], "--input", "0", "--script", "00"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--amount is required"), std::string::npos) << r.err;
    r = run_cli({"tx", "sighash", "--tx", v["unsigned_tx"], "--input", "0", "--amount", "1",
                 "--script", "7g"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--script is not hex"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace raregen::test
