// `raregen keys generate|address`: key files are 0600 and never overwritten
// by accident, loose key files are refused, and a WIF is printed only when asked.

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <string>

#include "tests/tools/raregen/cli_runner.h"

namespace raregen::test {
namespace {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

TEST(KeysGenerate, OutWritesA0600FileAndKeepsTheKeyOffStdout) {
    TempDir dir;
    const std::string path = dir.path("key.wif");
    const CliResult g = run_cli({"keys", "generate", "--out", path});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    EXPECT_EQ(file_mode(path), 0600u);
    const std::string key = trimmed(read_file(path));
    EXPECT_EQ(key.size(), 52u);  // compressed mainnet WIF
    EXPECT_TRUE(key[0] == 'K' || key[0] == 'L') << key;
    const auto j = g.json();
    EXPECT_FALSE(j.contains("wif"));
    EXPECT_EQ(j["wif_file"], path);
    EXPECT_EQ(j["network"], "mainnet");
    EXPECT_EQ(j["compressed"], true);
    EXPECT_EQ(j["address"].get<std::string>()[0], '1');
    EXPECT_EQ(g.out.find(key), std::string::npos);
    EXPECT_EQ(g.err.find(key), std::string::npos);

    // The file is accepted as a key source and gives the same key.
    const CliResult a = run_cli({"keys", "address", "--wif-file", path});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(a.json()["address"], j["address"]);
    EXPECT_EQ(a.json()["pubkey"], j["pubkey"]);
    EXPECT_EQ(a.json()["pubkey_hash"], j["pubkey_hash"]);
    EXPECT_EQ(a.out.find(key), std::string::npos);
}

TEST(KeysGenerate, RefusesAnExistingFileUnlessForced) {
    TempDir dir;
    const std::string path = dir.path("key.wif");
    write_file(path, "keep me\n", 0600);
    const CliResult refused = run_cli({"keys", "generate", "--out", path});
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_NE(refused.err.find("already exists"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
    EXPECT_EQ(read_file(path), "keep me\n");
    EXPECT_TRUE(refused.out.empty());

    // --force replaces it, and the replacement is 0600 even if the old file was not.
    ::chmod(path.c_str(), 0644);
    const CliResult forced = run_cli({"keys", "generate", "--testnet", "--out", path, "--force"});
    ASSERT_EQ(forced.exit_code, 0) << forced.err;
    EXPECT_EQ(file_mode(path), 0600u);
    const std::string key = trimmed(read_file(path));
    EXPECT_EQ(key[0], 'c');  // compressed testnet WIF
    const CliResult a = run_cli({"keys", "address", "--wif-file", path});
    EXPECT_EQ(a.json()["address"], forced.json()["address"]);
    EXPECT_EQ(a.json()["network"], "testnet");

    const CliResult force_alone = run_cli({"keys", "generate", "--force"});
    EXPECT_EQ(force_alone.exit_code, 2);
    EXPECT_NE(force_alone.err.find("--force requires --out"), std::string::npos) << force_alone.err;
}

TEST(KeysGenerate, ShowWifPrintsTheKeyOnlyWhenAsked) {
    const CliResult plain = run_cli({"keys", "generate", "--testnet"});
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    EXPECT_FALSE(plain.json().contains("wif"));
    EXPECT_NE(plain.err.find("not saved"), std::string::npos) << plain.err;

    const CliResult shown = run_cli({"keys", "generate", "--testnet", "--show-wif"});
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    const auto j = shown.json();
    const std::string key = j["wif"];
    EXPECT_EQ(key[0], 'c');
    const char first = j["address"].get<std::string>()[0];
    EXPECT_TRUE(first == 'm' || first == 'n') << j["address"];
    const CliResult a = run_cli(CliCall{{"keys", "address"}, {}, {{"RAREGEN_WIF", key}}});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(a.json()["address"], j["address"]);
}

TEST(KeysGenerate, UnwritableDirectoryExits2) {
    TempDir dir;
    const CliResult r = run_cli({"keys", "generate", "--out", dir.path("missing/key.wif")});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("cannot create key file"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
}

TEST(KeysAddress, ReferenceKey) {
    const auto v = load_test_json("vectors.json")["p2pkh_spend_forkid"];
    const CliResult r = run_cli({"keys", "address", "--wif", v["wif"].get<std::string>()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = r.json();
    // Computed independently: base58check(0x6f || hash160).
    EXPECT_EQ(j["address"], "my5YCpHyfaEbuRuPn1N9JBje2gYoBRW3uj");
    EXPECT_EQ(j["pubkey"], "03b8b40a84123121d260f5c109bc5a46ec819c2e4002e5ba08638783bfb4e01435");
    EXPECT_EQ(j["pubkey_hash"], v["pubkey_hash160"]);
    EXPECT_EQ(j["network"], "testnet");
    EXPECT_EQ(j["compressed"], true);
    EXPECT_FALSE(j.contains("wif"));
}

TEST(KeysAddress, UncompressedMainnetKey) {
    const auto v = load_test_json("vectors.json")["rfc6979_low_s_der"]["cases"][0];
    const CliResult r = run_cli({"keys", "address", "--wif", v["wif"].get<std::string>()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = r.json();
    EXPECT_EQ(j["compressed"], false);
    EXPECT_EQ(j["network"], "mainnet");
    EXPECT_EQ(j["pubkey"].get<std::string>().size(), 130u);
    EXPECT_EQ(j["pubkey"].get<std::string>().substr(0, 2), "04");
}

TEST(KeysAddress, KeyFilePermissions) {
    const std::string key = load_test_json("vectors.json")["p2pkh_spend_forkid"]["wif"];
    TempDir dir;
    const std::string path = dir.path("key.wif");
    for (unsigned mode : {0600u, 0400u}) {
        write_file(path, "  " + key + "\n", mode);
        const CliResult r = run_cli({"keys", "address", "--wif-file", path});
        EXPECT_EQ(r.exit_code, 0) << std::oct << mode << ": " << r.err;
        EXPECT_EQ(r.json()["address"], "my5YCpHyfaEbuRuPn1N9JBje2gYoBRW3uj");
    }
    for (unsigned mode : {0644u, 0640u, 0604u, 0660u}) {
        write_file(path, key + "\n", mode);
        const CliResult r = run_cli({"keys", "address", "--wif-file", path});
        EXPECT_EQ(r.exit_code, 2) << std::oct << mode;
        EXPECT_NE(r.err.find("chmod 600 " + path), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find(key), std::string::npos);
        EXPECT_TRUE(r.out.empty());
    }
}

TEST(KeysAddress, BadKeySourcesExit2) {
    TempDir dir;
    CliResult r = run_cli({"keys", "address"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--wif-file"), std::string::npos) << r.err;

    r = run_cli({"keys", "address", "--wif-file", dir.path("absent")});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("cannot open key file"), std::string::npos) << r.err;

    write_file(dir.path("empty"), "\n", 0600);
    r = run_cli({"keys", "address", "--wif-file", dir.path("empty")});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("is empty"), std::string::npos) << r.err;

    std::string not_a_key = load_test_json("vectors.json")["p2pkh_spend_forkid"]["wif"];
    not_a_key[10] = not_a_key[10] == 'x' ? 'y' : 'x';  // breaks the checksum
    write_file(dir.path("garbage"), not_a_key + "\n", 0600);
    r = run_cli({"keys", "address", "--wif-file", dir.path("garbage")});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("was refused"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(not_a_key), std::string::npos) << r.err;

    r = run_cli({"keys", "address", "--wif-file", dir.path("")});  // a directory
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace raregen::test
