// Conventions every subcommand keeps: --help exits 0 and prints usage, parse
// errors exit 2 naming the problem, nothing but JSON on stdout.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/tools/raregen/cli_runner.h"

namespace raregen::test {
namespace {

// The subcommands `raregen ARGS --help` lists (CLI11's "Subcommands:"
// section: one per line, the name first).
std::vector<std::string> listed_subcommands(const std::string& help) {
    std::vector<std::string> names;
    const std::size_t at = help.find("\nSubcommands:\n");
    if (at == std::string::npos) return names;
    std::size_t pos = at + 14;
    while (pos < help.size()) {
        const std::size_t end = help.find('\n', pos);
        const std::string line = help.substr(pos, end == std::string::npos ? end : end - pos);
        pos = end == std::string::npos ? help.size() : end + 1;
        if (line.empty()) break;
        if (line.rfind("  ", 0) != 0 || line[2] == ' ') continue;  // a wrapped description
        const std::size_t name_end = line.find(' ', 2);
        names.push_back(line.substr(2, name_end - 2));
    }
    return names;
}

// Every subcommand the binary has, found by walking its own help (so a new
// command is covered the day it is added): --help exits 0 with its usage
// line on stdout and nothing on stderr.
TEST(Conventions, EverySubcommandHasHelp) {
    std::vector<std::vector<std::string>> todo = {{}};
    std::size_t checked = 0;
    std::vector<std::string> leaves;
    while (!todo.empty()) {
        std::vector<std::string> args = todo.back();
        todo.pop_back();
        std::string usage = "Usage: raregen";
        std::string path;
        for (const auto& a : args) {
            usage += " " + a;
            path += (path.empty() ? "" : " ") + a;
        }
        std::vector<std::string> with_help = args;
        with_help.push_back("--help");
        const CliResult r = run_cli(with_help);
        ++checked;
        EXPECT_EQ(r.exit_code, 0) << "raregen " << path << " --help: " << r.err;
        EXPECT_NE(r.out.find(usage), std::string::npos) << r.out;
        EXPECT_TRUE(r.err.empty()) << "raregen " << path << " --help: " << r.err;
        const std::vector<std::string> subs = listed_subcommands(r.out);
        if (subs.empty()) leaves.push_back(path);
        for (const std::string& s : subs) {
            std::vector<std::string> next = args;
            next.push_back(s);
            todo.push_back(std::move(next));
        }
    }
    // The walk reached the commands the README documents, at every depth.
    for (const char* known :
         {"tx decode", "keys generate", "keys register", "gen intents", "gen utxos", "run",
          "utxos split", "utxos status", "network serve", "demo"})
        EXPECT_NE(std::find(leaves.begin(), leaves.end(), known), leaves.end())
            << "the help walk did not reach `raregen " << known << "`";
    EXPECT_GE(checked, 20u);
}

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
