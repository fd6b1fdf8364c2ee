// Conventions every subcommand keeps: --help exits 0 and prints usage, parse
// errors exit 2 naming the problem, nothing but JSON on stdout.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/tools/raregen/cli_runner.h"

namespace raregen::test {
namespace {

class HelpTest : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(HelpTest, ExitsZeroAndPrintsUsageOnStdout) {
    std::vector<std::string> args = GetParam();
    std::string usage = "Usage: raregen";
    for (const auto& a : args)
        usage += " " + a;
    args.push_back("--help");
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(usage), std::string::npos) << r.out;
    EXPECT_TRUE(r.err.empty()) << r.err;
}

INSTANTIATE_TEST_SUITE_P(EverySubcommand, HelpTest,
                         ::testing::Values(std::vector<std::string>{},
                                           std::vector<std::string>{"tx"},
                                           std::vector<std::string>{"tx", "decode"},
                                           std::vector<std::string>{"tx", "sighash"},
                                           std::vector<std::string>{"tx", "sign"},
                                           std::vector<std::string>{"tx", "verify"},
                                           std::vector<std::string>{"keys"},
                                           std::vector<std::string>{"keys", "generate"},
                                           std::vector<std::string>{"keys", "address"}));

TEST(Conventions, HelpOfSignWarnsAboutInlineWif) {
    const CliResult r = run_cli({"tx", "sign", "--help"});
    EXPECT_NE(r.out.find("process list"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("RAREGEN_WIF"), std::string::npos) << r.out;
}

TEST(Conventions, NoSubcommandExits2) {
    for (const auto& args : {std::vector<std::string>{}, std::vector<std::string>{"tx"},
                             std::vector<std::string>{"keys"}}) {
        const CliResult r = run_cli(args);
        EXPECT_EQ(r.exit_code, 2);
        EXPECT_NE(r.err.find("needs a subcommand, one of:"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("--help"), std::string::npos) << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    }
}

TEST(Conventions, UnknownSubcommandOrOptionExits2NamingIt) {
    CliResult r = run_cli({"tx", "frobnicate"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("not a subcommand: frobnicate"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("decode sighash sign verify"), std::string::npos) << r.err;

    r = run_cli({"tx", "decode", "00", "--bogus"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("raregen tx decode --help"), std::string::npos) << r.err;
}

TEST(Conventions, MissingRequiredOptionExits2NamingIt) {
    const CliResult r = run_cli({"tx", "sign", "--value", "100"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--prevout"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
}

TEST(Conventions, NonNumericOptionExits2) {
    const CliResult r = run_cli({"tx", "sighash", "--tx", "00", "--input", "first"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--input"), std::string::npos) << r.err;
}

TEST(Conventions, StdoutIsExactlyOneJsonObject) {
    const CliResult r = run_cli({"keys", "generate"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);  // throws if anything else was printed
    EXPECT_TRUE(j.is_object());
    EXPECT_EQ(r.out.back(), '\n');
}

}  // namespace
}  // namespace raregen::test
