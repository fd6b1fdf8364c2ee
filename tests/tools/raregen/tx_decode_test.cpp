// `raregen tx decode`: the reference spend decodes to its known txid and
// fields; EF and data pushes are shown; malformed input exits 2 with where.

#include <gtest/gtest.h>

#include <string>

#include "tests/tools/raregen/cli_runner.h"

namespace raregen::test {
namespace {

TEST(TxDecode, ReferenceSpendDecodesToItsTxid) {
    const CliResult r = run_cli({"tx", "decode", spend()["signed_tx"].get<std::string>()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = r.json();
    EXPECT_EQ(j["txid"], spend()["txid"]);
    EXPECT_EQ(j["size"], spend()["size"]);
    EXPECT_EQ(j["format"], "standard");
    EXPECT_FALSE(j.contains("ef_size"));
    EXPECT_EQ(j["version"], 1);
    EXPECT_EQ(j["locktime"], 0);
    ASSERT_EQ(j["inputs"].size(), 1u);
    const auto& in = j["inputs"][0];
    // The raw hex holds 93a35408...51 (internal order); display order is reversed.
    EXPECT_EQ(in["prev_txid"], "51262307251dc909e2eb759b0ce7bfd927e8d399d7abd5e0998406b60854a393");
    EXPECT_EQ(in["prev_vout"], 0);
    EXPECT_EQ(in["sequence"], 0xffffffffu);
    EXPECT_EQ(in["script"].get<std::string>().size(), 2u * 107);
    EXPECT_FALSE(in.contains("prev_value"));
    ASSERT_EQ(j["outputs"].size(), 2u);
    const auto& o0 = j["outputs"][0];
    EXPECT_EQ(o0["value"], 5000000);
    EXPECT_EQ(o0["type"], "p2pkh");
    EXPECT_EQ(o0["script"], "76a91404ff367be719efa79d76e4416ffb072cd53b208888ac");
    EXPECT_EQ(o0["pubkey_hash"], "04ff367be719efa79d76e4416ffb072cd53b2088");
    EXPECT_EQ(o0["addresses"]["testnet"], "mfyNjKV672gTJdBCCqKo7gd15cRMLGmdDW");
    EXPECT_EQ(j["outputs"][1]["value"], 94999774);
}

TEST(TxDecode, ReadsHexFromStdinIgnoringWhitespace) {
    const std::string hex = spend()["signed_tx"].get<std::string>();
    // Wrapped, with surrounding blanks.
    std::string input = "  ";
    input.append(hex, 0, 100).append("\n").append(hex, 100).append("\n\n");
    const CliResult r = run_cli(CliCall{{"tx", "decode", "-"}, input, {}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.json()["txid"], spend()["txid"]);
}

TEST(TxDecode, EmptyStdinExits2) {
    const CliResult r = run_cli(CliCall{{"tx", "decode", "-"}, "  \n", {}});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("stdin is empty"), std::string::npos) << r.err;
}

TEST(TxDecode, DataOutputShowsPushesAndUtf8WhenValid) {
    // A hand-made one-input tx whose only output is 00 6a 05 "hello" 02 ff00 00.
    const std::string tx =
        "01000000"
        "01" +
        std::string(64, '1') + "00000000" + "00" + "ffffffff" + "01" + "0000000000000000" + "0c" +
        "006a0568656c6c6f02ff0000" + "00000000";
    const CliResult r = run_cli({"tx", "decode", tx});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = r.json();
    const auto& out = j["outputs"][0];
    EXPECT_EQ(out["type"], "data");
    ASSERT_EQ(out["pushes"].size(), 3u);
    EXPECT_EQ(out["pushes"][0]["hex"], "68656c6c6f");
    EXPECT_EQ(out["pushes"][0]["utf8"], "hello");
    EXPECT_EQ(out["pushes"][1]["hex"], "ff00");
    EXPECT_TRUE(out["pushes"][1]["utf8"].is_null());  // 0xff is never UTF-8
    EXPECT_EQ(out["pushes"][2]["hex"], "");
    EXPECT_EQ(out["pushes"][2]["utf8"], "");
    EXPECT_EQ(j["inputs"][0]["prev_txid"], std::string(64, '1'));
}

TEST(TxDecode, TrailingBytesExit2WithMessageAndOffset) {
    const CliResult r = run_cli({"tx", "decode", spend()["signed_tx"].get<std::string>() + "00"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("bytes remain after lock_time"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("byte offset 226"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
}

TEST(TxDecode, TruncatedExits2WithOffset) {
    const std::string full = spend()["signed_tx"].get<std::string>();
    // Cut inside lock_time (the last 4 of 226 bytes).
    CliResult r = run_cli({"tx", "decode", full.substr(0, full.size() - 4)});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("byte offset 222"), std::string::npos) << r.err;
    // Cut inside the first outpoint: the input count can no longer be right.
    r = run_cli({"tx", "decode", full.substr(0, 2 * 20)});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("count is larger than the remaining data"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("byte offset 5"), std::string::npos) << r.err;
}

TEST(TxDecode, BadHexExits2NamingTheCharacter) {
    CliResult r = run_cli({"tx", "decode", "0100g0"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("'g' at position 4"), std::string::npos) << r.err;
    r = run_cli({"tx", "decode", "010"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("odd number of hex digits"), std::string::npos) << r.err;
    r = run_cli({"tx", "decode", "0x01000000"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("0x prefix"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace raregen::test
