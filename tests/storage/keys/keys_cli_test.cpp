// `raregen keys register|revoke|list`: the built binary against a fresh
// database of the embedded cluster.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/storage/keys/keys_test_util.h"
#include "tests/storage/pg/pg_test_env.h"

namespace raregen::keys {
namespace {

using pg::testing::PgTest;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::hex_of;
using ::testing::Not;
using testing::test_key;
using Json = nlohmann::json;

struct CliRun {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Single-quotes `s` for sh.
std::string sh_quote(const std::string& s) {
    std::string q = "'";
    for (char ch : s)
        q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return q + "'";
}

class KeysCli : public PgTest {
  protected:
    void SetUp() override {
        PgTest::SetUp();
        char dir_template[] = "/tmp/raregen-keys-cli-XXXXXX";
        ASSERT_NE(::mkdtemp(dir_template), nullptr);
        m_dir = dir_template;
    }
    void TearDown() override {
        if (!m_dir.empty()) std::system(("rm -rf " + sh_quote(m_dir)).c_str());
    }

    // Runs raregen with `args`; DATABASE_URL is `url` (unset if empty).
    CliRun raregen(const std::string& args, const std::string& url) {
        const std::string err_path = m_dir + "/stderr";
        std::string cmd =
            url.empty() ? "env -u DATABASE_URL " : "env DATABASE_URL=" + sh_quote(url) + " ";
        cmd += sh_quote(RAREGEN_CLI_PATH) + " " + args + " 2>" + sh_quote(err_path);
        CliRun run;
        std::FILE* p = ::popen(cmd.c_str(), "r");
        if (p == nullptr) {
            ADD_FAILURE() << "popen failed";
            return run;
        }
        std::array<char, 4096> buf{};
        std::size_t n = 0;
        while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
            run.out.append(buf.data(), n);
        const int status = ::pclose(p);
        run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        std::ifstream err(err_path);
        std::stringstream ss;
        ss << err.rdbuf();
        run.err = ss.str();
        return run;
    }

    std::string m_dir;
};

TEST_F(KeysCli, RegisterRevokeListAgainstADatabase) {
    const std::string url = fresh_database();
    const std::string k0 = hex_of(test_key(0));

    CliRun r = raregen("keys register --pubkey " + k0 + " --policy '{\"tier\":1}'", url);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Json j = Json::parse(r.out);
    EXPECT_EQ(j["pubkey"], k0);
    EXPECT_EQ(j["outcome"], "registered");
    EXPECT_EQ(j["policy"]["tier"], 1);

    r = raregen("keys register --pubkey " + k0, url);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Json::parse(r.out)["outcome"], "already_active");

    // The public key of a WIF key file (mode 0600).
    std::array<std::uint8_t, 32> secret{};
    secret[31] = 2;  // test_key(1)
    const auto priv = chain::PrivateKey::from_bytes(secret);
    const std::string key_file = m_dir + "/signer.wif";
    {
        const int fd = ::open(key_file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
        ASSERT_GE(fd, 0);
        const std::string wif = chain::encode_wif(*priv, chain::Network::mainnet, true) + "\n";
        ASSERT_EQ(::write(fd, wif.data(), wif.size()), static_cast<ssize_t>(wif.size()));
        ::close(fd);
    }
    r = raregen("keys register --key-file " + sh_quote(key_file), url);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Json::parse(r.out)["pubkey"], hex_of(test_key(1)));
    EXPECT_THAT(r.out + r.err, Not(HasSubstr(chain::encode_wif(*priv, chain::Network::mainnet))));

    r = raregen("keys revoke --pubkey " + k0, url);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Json::parse(r.out)["outcome"], "revoked");

    r = raregen("keys list", url);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    j = Json::parse(r.out);
    ASSERT_TRUE(j.is_array());
    ASSERT_EQ(j.size(), 2u);
    for (const Json& row : j) {
        if (row["pubkey"] == k0) {
            EXPECT_EQ(row["status"], "revoked");
            EXPECT_EQ(row["active"], false);
            EXPECT_EQ(row["policy"]["tier"], 1);
        } else {
            EXPECT_EQ(row["pubkey"], hex_of(test_key(1)));
            EXPECT_EQ(row["status"], "active");
            EXPECT_EQ(row["active"], true);
            EXPECT_TRUE(row["policy"].is_null());
        }
    }
}

TEST_F(KeysCli, BadInputExitsTwoNamingTheProblem) {
    const std::string url = fresh_database();
    const std::string k2 = hex_of(test_key(2));

    CliRun r = raregen("keys revoke --pubkey " + k2, url);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, AllOf(HasSubstr(k2), HasSubstr("not registered")));
    EXPECT_TRUE(r.out.empty());

    r = raregen("keys register --pubkey 02abcd", url);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, AllOf(HasSubstr("--pubkey"), HasSubstr("66 hex digits")));

    r = raregen("keys register --pubkey " + k2 + " --policy '{oops'", url);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr("--policy is not valid JSON"));

    r = raregen("keys register", url);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr("--pubkey HEX"));

    r = raregen("keys list", "");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, AllOf(HasSubstr("DATABASE_URL is not set"), HasSubstr("vanish")));

    // A key file others can read is refused (and the key never echoed).
    const std::string key_file = m_dir + "/open.wif";
    std::ofstream(key_file) << "not-a-wif\n";
    ::chmod(key_file.c_str(), 0644);
    r = raregen("keys register --key-file " + sh_quote(key_file), url);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr("chmod"));

    // Nothing above wrote a row.
    r = raregen("keys list", url);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Json::parse(r.out), Json::array());
}

TEST_F(KeysCli, AnUnreachableDatabaseSaysSoWithoutThePassword) {
    const CliRun r =
        raregen("keys list", "postgres://raregen:s3cr3t-pw@127.0.0.1:1/raregen?connect_timeout=5");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, AllOf(HasSubstr("could not connect"), HasSubstr("127.0.0.1"),
                             Not(HasSubstr("s3cr3t-pw"))));
    EXPECT_TRUE(r.out.empty());
}

TEST_F(KeysCli, HelpDescribesTheCommands) {
    for (const char* sub : {"register", "revoke", "list"}) {
        const CliRun r = raregen(std::string("keys ") + sub + " --help", "");
        EXPECT_EQ(r.exit_code, 0) << sub << r.err;
        EXPECT_THAT(r.out, HasSubstr("DATABASE_URL")) << sub;
    }
}

}  // namespace
}  // namespace raregen::keys
