#include "storage/utxo/utxo_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>

#include "engine/chain/tx.h"
#include "tests/storage/utxo/utxo_test_util.h"

namespace raregen::utxo {
namespace {

using ::testing::HasSubstr;

// Display-order txids (as explorers show them).
const std::string k_txid_a = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
const std::string k_txid_b = "ff" + std::string(62, '0');

// The single error of a one-error parse.
UtxoLineError only_error(const UtxoFileResult& r) {
    EXPECT_EQ(r.error_count, 1u);
    EXPECT_EQ(r.errors.size(), 1u);
    EXPECT_TRUE(r.utxos.empty());
    return r.errors.empty() ? UtxoLineError{} : r.errors.front();
}

TEST(UtxoFile, ParsesLinesCommentsBlankLinesAndCrlf) {
    const std::string text =
        "# funding split 2026-01-01\n"
        "\n" +
        k_txid_a + ":0 100\n" + "   " + k_txid_a + ":1\t250   # inline comment\r\n" + "\t\n" +
        k_txid_b + ":4294967295 2100000000000000";  // no final newline
    const UtxoFileResult r = parse_utxo_text(text);
    ASSERT_TRUE(r.ok()) << r.describe("text");
    ASSERT_EQ(r.utxos.size(), 3u);
    // Display order is reversed: the internal txid starts with the last displayed byte.
    EXPECT_EQ(r.utxos[0].outpoint.txid[0], 0x20);
    EXPECT_EQ(r.utxos[0].outpoint.txid[31], 0x01);
    EXPECT_EQ(chain::hash_to_display(r.utxos[0].outpoint.txid), k_txid_a);
    EXPECT_EQ(r.utxos[0].outpoint.vout, 0u);
    EXPECT_EQ(r.utxos[0].value, 100);
    EXPECT_EQ(r.utxos[1].outpoint.vout, 1u);
    EXPECT_EQ(r.utxos[1].value, 250);
    EXPECT_EQ(r.utxos[2].outpoint.vout, 4294967295u);
    EXPECT_EQ(r.utxos[2].value, 2'100'000'000'000'000);
}

TEST(UtxoFile, EmptyTextIsNoUtxos) {
    const UtxoFileResult r = parse_utxo_text("# nothing yet\n\n");
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.utxos.empty());
}

TEST(UtxoFile, FormatLineRoundTrips) {
    const chain::Utxo u = testing::numbered_utxo(12345);
    const std::string line = format_utxo_line(u);
    EXPECT_EQ(line, chain::format_outpoint(u.outpoint) + " " + std::to_string(u.value));
    const UtxoFileResult r = parse_utxo_text(line + "\n");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.utxos.size(), 1u);
    EXPECT_TRUE(testing::same_utxo(r.utxos[0], u));
}

struct BadLine {
    std::string name;  // the test's name suffix
    std::string line;
    std::string expect;  // a phrase the message must contain
};
// How GoogleTest shows a parameter (else a byte dump of the struct).
void PrintTo(const BadLine& b, std::ostream* os) {
    *os << b.name;
}

class UtxoFileBadLine : public ::testing::TestWithParam<BadLine> {};

// Each bad line sits on line 3, after a comment and a good line, so the
// reported number proves the count includes both.
TEST_P(UtxoFileBadLine, RefusedWithLineNumber) {
    const std::string text =
        "# header\n" + k_txid_a + ":0 100\n" + GetParam().line + "\n" + k_txid_a + ":9 100\n";
    const UtxoFileResult r = parse_utxo_text(text);
    const UtxoLineError e = only_error(r);
    EXPECT_EQ(e.line, 3u);
    EXPECT_THAT(e.message, HasSubstr(GetParam().expect));
    EXPECT_THAT(r.describe("pool.txt"), HasSubstr("pool.txt:3: "));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, UtxoFileBadLine,
    ::testing::Values(
        BadLine{"TxidTooShort", k_txid_a.substr(0, 63) + ":0 100", "bad txid"},
        BadLine{"TxidNotHex", "zz" + k_txid_a.substr(2) + ":0 100", "not all hex"},
        BadLine{"NoColon", k_txid_a + " 100", "missing ':VOUT'"},
        BadLine{"VoutEmpty", k_txid_a + ": 100", "bad vout"},
        BadLine{"VoutNotNumber", k_txid_a + ":x 100", "bad vout"},
        BadLine{"VoutNegative", k_txid_a + ":-1 100", "bad vout"},
        BadLine{"VoutOverU32", k_txid_a + ":4294967296 100", "bad vout"},
        BadLine{"ValueMissing", k_txid_a + ":1", "missing value"},
        BadLine{"ValueNegative", k_txid_a + ":1 -5", "negative value"},
        BadLine{"ValueZero", k_txid_a + ":1 0", "below the minimum of 1"},
        BadLine{"ValueFraction", k_txid_a + ":1 1.5", "bad value"},
        BadLine{"ValueText", k_txid_a + ":1 abc", "bad value"},
        BadLine{"ValuePlusSign", k_txid_a + ":1 +100", "bad value"},
        BadLine{"ValueOverMaxMoney", k_txid_a + ":1 2100000000000001", "above 21,000,000 BSV"},
        BadLine{"ValueOverI64", k_txid_a + ":1 99999999999999999999", "above 21,000,000 BSV"},
        BadLine{"ExtraField", k_txid_a + ":1 100 extra", "unexpected text"}),
    [](const ::testing::TestParamInfo<BadLine>& param_info) { return param_info.param.name; });

TEST(UtxoFile, DuplicateOutpointRefusedNamingBothLines) {
    const std::string text = k_txid_a + ":0 100\n" +  // 1
                             k_txid_a + ":1 100\n" +  // 2: same txid, other vout: fine
                             k_txid_b + ":0 100\n" +  // 3
                             k_txid_a + ":0 999\n" +  // 4: duplicate of 1 (value differs)
                             k_txid_a + ":0 100\n";   // 5: another duplicate of 1
    const UtxoFileResult r = parse_utxo_text(text);
    ASSERT_EQ(r.error_count, 2u);
    EXPECT_TRUE(r.utxos.empty());
    EXPECT_EQ(r.errors[0].line, 4u);
    EXPECT_THAT(r.errors[0].message, HasSubstr("duplicate outpoint " + k_txid_a + ":0"));
    EXPECT_THAT(r.errors[0].message, HasSubstr("first on line 1"));
    EXPECT_THAT(r.errors[0].message, HasSubstr("double spend"));
    EXPECT_EQ(r.errors[1].line, 5u);
    EXPECT_THAT(r.errors[1].message, HasSubstr("first on line 1"));
}

TEST(UtxoFile, MinimumValueIsAnOption) {
    UtxoFileOptions o;
    o.min_value = 50;
    const UtxoFileResult low = parse_utxo_text(k_txid_a + ":0 49\n", o);
    EXPECT_THAT(only_error(low).message, HasSubstr("below the minimum of 50"));
    EXPECT_TRUE(parse_utxo_text(k_txid_a + ":0 50\n", o).ok());
}

TEST(UtxoFile, CountsEveryErrorButKeepsTheFirstFew) {
    std::string text;
    for (int i = 0; i < 30; ++i)
        text += "garbage line\n";
    const UtxoFileResult r = parse_utxo_text(text);
    EXPECT_EQ(r.error_count, 30u);
    ASSERT_EQ(r.errors.size(), 20u);
    EXPECT_EQ(r.errors.front().line, 1u);
    EXPECT_EQ(r.errors.back().line, 20u);
    EXPECT_THAT(r.describe("f"), HasSubstr("... and 10 more error(s) in f"));
}

class UtxoFileOnDisk : public ::testing::Test {
  protected:
    void SetUp() override {
        m_dir = std::filesystem::temp_directory_path() /
                ("raregen_utxo_file_test_" + std::to_string(::getpid()));
        std::filesystem::create_directories(m_dir);
    }
    void TearDown() override { std::filesystem::remove_all(m_dir); }
    std::filesystem::path m_dir;
};

TEST_F(UtxoFileOnDisk, LoadsAFile) {
    const auto path = m_dir / "pool.txt";
    {
        std::ofstream out(path);
        for (std::uint64_t i = 0; i < 100; ++i)
            out << format_utxo_line(testing::numbered_utxo(i)) << "\n";
    }
    const UtxoFileResult r = load_utxo_file(path.string());
    ASSERT_TRUE(r.ok()) << r.describe(path.string());
    ASSERT_EQ(r.utxos.size(), 100u);
    for (std::uint64_t i = 0; i < 100; ++i)
        EXPECT_TRUE(testing::same_utxo(r.utxos[i], testing::numbered_utxo(i)));
}

TEST_F(UtxoFileOnDisk, MissingFileAndDirectoryAreFileErrors) {
    const UtxoLineError missing = only_error(load_utxo_file((m_dir / "absent.txt").string()));
    EXPECT_EQ(missing.line, 0u);
    EXPECT_THAT(missing.message, HasSubstr("cannot open the UTXO file"));
    const UtxoLineError dir = only_error(load_utxo_file(m_dir.string()));
    EXPECT_EQ(dir.line, 0u);
    EXPECT_THAT(dir.message, HasSubstr("not a regular file"));
    EXPECT_EQ(load_utxo_file(m_dir.string()).describe("d"), "d: " + dir.message + "\n");
}

}  // namespace
}  // namespace raregen::utxo
