// `raregen tx sign` -> `tx decode` -> `tx verify` round trips, tampering,
// key sources and the rule that a WIF never reaches stderr.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/tools/raregen/cli_runner.h"

namespace raregen::test {
namespace {

std::string wif() {
    return spend()["wif"];
}
std::string key_script() {
    return spend()["spent_output"]["locking_script"];
}
const std::string k_prevout = "51262307251dc909e2eb759b0ce7bfd927e8d399d7abd5e0998406b60854a393:1";

std::string hex_of(const std::string& s) {
    static const char* d = "0123456789abcdef";
    std::string h;
    for (unsigned char c : s) {
        h += d[c >> 4];
        h += d[c & 15];
    }
    return h;
}

// The RareGen payload {"p":"sl-drm","v":1,"hash":"<64 hex>"}: 94 bytes.
const std::string k_payload = R"({"p":"sl-drm","v":1,"hash":")" + std::string(64, 'a') + R"("})";

CliResult sign(std::vector<std::string> extra, long long value = 100) {
    std::vector<std::string> args{"tx",      "sign",    "--prevout",
                                  k_prevout, "--value", std::to_string(value)};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(CliCall{args, {}, {{"RAREGEN_WIF", wif()}}});
}

std::string prevouts_json(long long value, const std::string& script) {
    return R"([{"value": )" + std::to_string(value) + R"(, "script": ")" + script + R"("}])";
}

// Flips the low bit of the byte at `byte` in a hex string.
std::string flip(std::string hex, std::size_t byte) {
    char& c = hex[2 * byte + 1];
    const int v = (c <= '9' ? c - '0' : c - 'a' + 10) ^ 1;
    c = static_cast<char>(v < 10 ? '0' + v : 'a' + v - 10);
    return hex;
}

TEST(TxSign, WithChangeRoundTripsThroughDecodeAndVerify) {
    const CliResult s = sign({"--data", hex_of(k_payload), "--change"});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    const auto j = s.json();
    // docs/protocol.md §4: 94-byte payload, one input, change: 299 bytes (298 with a
    // 70-byte signature), 30 sat at 100 sat/kB, 70 sat change.
    EXPECT_TRUE(j["size"] == 299 || j["size"] == 298) << j["size"];
    EXPECT_EQ(j["fee"], 30);
    EXPECT_EQ(j["change"], 70);
    EXPECT_EQ(j["hex"].get<std::string>().size(), 2 * j["size"].get<std::size_t>());
    EXPECT_EQ(j["ef_size"].get<std::size_t>(), j["size"].get<std::size_t>() + 6 + 34);

    const CliResult d = run_cli({"tx", "decode", j["hex"]});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    const auto dj = d.json();
    EXPECT_EQ(dj["txid"], j["txid"]);
    EXPECT_EQ(dj["size"], j["size"]);
    EXPECT_EQ(dj["inputs"][0]["prev_txid"], k_prevout.substr(0, 64));
    EXPECT_EQ(dj["inputs"][0]["prev_vout"], 1);
    ASSERT_EQ(dj["outputs"].size(), 2u);
    EXPECT_EQ(dj["outputs"][0]["type"], "data");
    EXPECT_EQ(dj["outputs"][0]["value"], 0);
    EXPECT_EQ(dj["outputs"][0]["pushes"][0]["utf8"], k_payload);
    EXPECT_EQ(dj["outputs"][1]["type"], "p2pkh");
    EXPECT_EQ(dj["outputs"][1]["pubkey_hash"], spend()["pubkey_hash160"]);
    EXPECT_EQ(dj["outputs"][1]["value"], 70);

    // The EF form decodes to the same txid and carries the spent output.
    const CliResult de = run_cli({"tx", "decode", j["ef"]});
    ASSERT_EQ(de.exit_code, 0) << de.err;
    EXPECT_EQ(de.json()["txid"], j["txid"]);
    EXPECT_EQ(de.json()["format"], "extended");
    EXPECT_EQ(de.json()["ef_size"], j["ef_size"]);
    EXPECT_EQ(de.json()["inputs"][0]["prev_value"], 100);
    EXPECT_EQ(de.json()["inputs"][0]["prev_script"], key_script());

    // Verify from EF alone, and from raw plus --prevouts.
    for (const auto& args :
         {std::vector<std::string>{"tx", "verify", "--tx", j["ef"]},
          std::vector<std::string>{"tx", "verify", "--tx", j["hex"], "--prevouts",
                                   prevouts_json(100, key_script())}}) {
        const CliResult v = run_cli(args);
        ASSERT_EQ(v.exit_code, 0) << v.err;
        const auto vj = v.json();
        EXPECT_EQ(vj["valid"], true) << v.out;
        EXPECT_EQ(vj["txid"], j["txid"]);
        EXPECT_EQ(vj["fee"], 30);
        ASSERT_EQ(vj["inputs"].size(), 1u);
        EXPECT_EQ(vj["inputs"][0]["index"], 0);
        EXPECT_EQ(vj["inputs"][0]["ok"], true);
        EXPECT_TRUE(vj["inputs"][0]["reason"].is_null());
        EXPECT_TRUE(vj["errors"].empty());
    }
}

TEST(TxSign, WithoutChangeAndSeveralPushes) {
    const CliResult s =
        sign({"--data", hex_of("one"), "--data", "ff", "--data", "", "--data", hex_of("three")});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    const auto j = s.json();
    EXPECT_EQ(j["change"], 0);
    EXPECT_EQ(j["fee"], 100);  // everything goes to the miner
    const auto dj = run_cli({"tx", "decode", j["hex"]}).json();
    ASSERT_EQ(dj["outputs"].size(), 1u);
    const auto& pushes = dj["outputs"][0]["pushes"];
    ASSERT_EQ(pushes.size(), 4u);
    EXPECT_EQ(pushes[0]["utf8"], "one");
    EXPECT_EQ(pushes[1]["hex"], "ff");
    EXPECT_TRUE(pushes[1]["utf8"].is_null());
    EXPECT_EQ(pushes[2]["hex"], "");
    EXPECT_EQ(pushes[3]["utf8"], "three");
    const CliResult v =
        run_cli({"tx", "verify", "--tx", j["hex"], "--prevouts",
                 R"([{"satoshis": 100, "locking_script": ")" + key_script() + R"("}])"});
    ASSERT_EQ(v.exit_code, 0) << v.err;
    EXPECT_EQ(v.json()["valid"], true) << v.out;
    EXPECT_EQ(v.json()["fee"], 100);
}

TEST(TxSign, SignatureIsDeterministicAcrossKeySources) {
    TempDir dir;
    const std::string key_file = dir.path("key.wif");
    write_file(key_file, wif() + "\n", 0600);
    const CliResult env = sign({"--data", "00"});
    const CliResult file = run_cli({"tx", "sign", "--wif-file", key_file, "--prevout", k_prevout,
                                    "--value", "100", "--data", "00"});
    const CliResult flag = run_cli(
        {"tx", "sign", "--wif", wif(), "--prevout", k_prevout, "--value", "100", "--data", "00"});
    ASSERT_EQ(env.exit_code, 0) << env.err;
    ASSERT_EQ(file.exit_code, 0) << file.err;
    ASSERT_EQ(flag.exit_code, 0) << flag.err;
    EXPECT_EQ(env.json()["hex"], file.json()["hex"]);
    EXPECT_EQ(env.json()["hex"], flag.json()["hex"]);
    // Only the inline key earns a warning.
    EXPECT_TRUE(env.err.empty()) << env.err;
    EXPECT_TRUE(file.err.empty()) << file.err;
    EXPECT_NE(flag.err.find("process list"), std::string::npos) << flag.err;
}

TEST(TxSign, KeyFileReadableByOthersIsRefused) {
    TempDir dir;
    const std::string key_file = dir.path("key.wif");
    write_file(key_file, wif() + "\n", 0644);
    const CliResult r =
        run_cli({"tx", "sign", "--wif-file", key_file, "--prevout", k_prevout, "--value", "100"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("0644"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("chmod 600 " + key_file), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
}

TEST(TxSign, BadInputsExit2NamingTheProblem) {
    struct Case {
        std::vector<std::string> extra;
        long long value;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{"--data", "00", "--data", "0g"}, 100, "--data #2 is not hex"},
        {{"--data", "abc"}, 100, "--data #1 has an odd number"},
        {{"--fee-rate", "100/0"}, 100, "--fee-rate '100/0' is not a fee rate"},
        {{"--data", hex_of(k_payload), "--change"}, 30, "cannot pay 31 sat"},
        {{"--data", hex_of(k_payload)}, 26, "cannot pay 27 sat"},
        {{"--data", "0000", "--max-payload", "1"}, 100, "exceeds the maximum of 1 bytes"},
        {{}, -5, "input value must be between"},
    };
    for (const Case& c : cases) {
        const CliResult r = sign(c.extra, c.value);
        EXPECT_EQ(r.exit_code, 2) << c.message;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
        EXPECT_TRUE(r.out.empty());
    }
    const CliResult bad_prevout = run_cli(CliCall{
        {"tx", "sign", "--prevout", "abcd:0", "--value", "100"}, {}, {{"RAREGEN_WIF", wif()}}});
    EXPECT_EQ(bad_prevout.exit_code, 2);
    EXPECT_NE(bad_prevout.err.find("is not TXID:VOUT"), std::string::npos) << bad_prevout.err;
    const CliResult no_key = run_cli({"tx", "sign", "--prevout", k_prevout, "--value", "100"});
    EXPECT_EQ(no_key.exit_code, 2);
    EXPECT_NE(no_key.err.find("no private key given"), std::string::npos) << no_key.err;
}

TEST(TxSign, WifNeverAppearsInErrors) {
    const std::string good = wif();
    std::string corrupt = good;
    corrupt.back() = corrupt.back() == 'q' ? 'r' : 'q';  // fails the checksum
    TempDir dir;
    const std::string loose = dir.path("loose.wif");
    write_file(loose, good + "\n", 0644);
    const std::string corrupt_file = dir.path("corrupt.wif");
    write_file(corrupt_file, corrupt + "\n", 0600);

    const std::vector<CliCall> calls = {
        // a valid key, with each kind of failure
        {{"tx", "sign", "--wif", good, "--prevout", k_prevout, "--value", "1", "--data", "00"},
         {},
         {}},
        {{"tx", "sign", "--wif", good, "--prevout", "nope", "--value", "1"}, {}, {}},
        {{"tx", "sign", "--wif", good, "--prevout", k_prevout, "--value", "100", "--data", "zz"},
         {},
         {}},
        {{"tx", "sign", "--prevout", k_prevout, "--value", "1"}, {}, {{"RAREGEN_WIF", good}}},
        {{"tx", "sign", "--wif", good, "--wif-file", loose, "--prevout", k_prevout, "--value", "1"},
         {},
         {}},
        {{"tx", "sign", "--wif-file", loose, "--prevout", k_prevout, "--value", "100"}, {}, {}},
        {{"keys", "address", "--wif-file", loose}, {}, {}},
        // a key that is refused, from each source
        {{"tx", "sign", "--wif", corrupt, "--prevout", k_prevout, "--value", "100"}, {}, {}},
        {{"tx", "sign", "--prevout", k_prevout, "--value", "100"}, {}, {{"RAREGEN_WIF", corrupt}}},
        {{"keys", "address", "--wif-file", corrupt_file}, {}, {}},
        {{"keys", "address", "--wif", corrupt}, {}, {}},
        // a key pasted where CLI11 does not expect an argument (it quotes extras back)
        {{"keys", "address", good}, {}, {}},
        {{"tx", "decode", "00", corrupt}, {}, {}},
        {{"keys", good}, {}, {}},
    };
    for (const CliCall& call : calls) {
        const CliResult r = run_cli(call);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_FALSE(r.err.empty());
        for (const std::string& secret : {good, corrupt, good.substr(0, 20), corrupt.substr(10)}) {
            EXPECT_EQ(r.err.find(secret), std::string::npos) << r.err;
            EXPECT_EQ(r.out.find(secret), std::string::npos) << r.out;
        }
    }
}

TEST(TxSighash, DefaultsScriptAndAmountFromEf) {
    const auto j = sign({"--data", "00", "--change"}).json();
    const CliResult from_ef = run_cli({"tx", "sighash", "--tx", j["ef"], "--input", "0"});
    const CliResult explicit_args =
        run_cli({"tx", "sighash", "--tx", j["hex"], "--input", "0", "--script", key_script(),
                 "--amount", "100", "--type", "0x41"});
    ASSERT_EQ(from_ef.exit_code, 0) << from_ef.err;
    ASSERT_EQ(explicit_args.exit_code, 0) << explicit_args.err;
    EXPECT_EQ(from_ef.json()["digest_internal"], explicit_args.json()["digest_internal"]);
    const CliResult other_amount =
        run_cli({"tx", "sighash", "--tx", j["ef"], "--input", "0", "--amount", "101"});
    EXPECT_NE(other_amount.json()["digest_internal"], from_ef.json()["digest_internal"]);
}

class TxVerifyTampered : public ::testing::Test {
  protected:
    void SetUp() override {
        const CliResult s = sign({"--data", hex_of(k_payload), "--change"});
        ASSERT_EQ(s.exit_code, 0) << s.err;
        m_hex = s.json()["hex"];
    }
    nlohmann::json verify(const std::string& hex, long long value, const std::string& script) {
        const CliResult v =
            run_cli({"tx", "verify", "--tx", hex, "--prevouts", prevouts_json(value, script)});
        EXPECT_EQ(v.exit_code, 0) << v.err;  // well-formed but invalid still exits 0
        return v.json();
    }
    std::string m_hex;
};

TEST_F(TxVerifyTampered, ChangedPayloadFailsTheSignature) {
    // Byte 200 lies inside the data push (input: 5..153, data output after it).
    const auto j = verify(flip(m_hex, 200), 100, key_script());
    EXPECT_EQ(j["valid"], false);
    EXPECT_EQ(j["inputs"][0]["ok"], false);
    EXPECT_NE(j["inputs"][0]["reason"].get<std::string>().find("does not verify"),
              std::string::npos)
        << j["inputs"][0]["reason"];
}

TEST_F(TxVerifyTampered, WrongSpentValueFailsTheSignature) {
    const auto j = verify(m_hex, 101, key_script());
    EXPECT_EQ(j["valid"], false);
    EXPECT_EQ(j["inputs"][0]["ok"], false);
    EXPECT_FALSE(j["inputs"][0]["reason"].is_null());
}

TEST_F(TxVerifyTampered, OtherKeysScriptFailsTheKeyHash) {
    const auto j = verify(m_hex, 100, "76a91404ff367be719efa79d76e4416ffb072cd53b208888ac");
    EXPECT_EQ(j["valid"], false);
    EXPECT_NE(j["inputs"][0]["reason"].get<std::string>().find("HASH160"), std::string::npos);
}

TEST_F(TxVerifyTampered, OutputsAboveInputsAreInvalidEvenWithGoodSignature) {
    const auto j = verify(m_hex, 50, key_script());  // change alone is 70
    EXPECT_EQ(j["valid"], false);
    EXPECT_EQ(j["fee"], -20);
    ASSERT_FALSE(j["errors"].empty());
    EXPECT_NE(j["errors"][0].get<std::string>().find("exceed the inputs"), std::string::npos);
}

TEST_F(TxVerifyTampered, PrevoutsOverrideWhatEfCarries) {
    const auto ef = sign({"--data", "00"}).json()["ef"].get<std::string>();
    const CliResult honest = run_cli({"tx", "verify", "--tx", ef});
    EXPECT_EQ(honest.json()["valid"], true);
    const CliResult overridden =
        run_cli({"tx", "verify", "--tx", ef, "--prevouts", prevouts_json(99, key_script())});
    EXPECT_EQ(overridden.exit_code, 0);
    EXPECT_EQ(overridden.json()["valid"], false);
}

TEST(TxVerify, MalformedInputExits2) {
    const std::string raw = spend()["signed_tx"];
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{"--tx", raw}, "pass --prevouts"},
        {{"--tx", raw, "--prevouts", "[]"}, "has 0 entries but the transaction has 1 input"},
        {{"--tx", raw, "--prevouts", "{"}, "not valid JSON"},
        {{"--tx", raw, "--prevouts", R"([{"value": 1}])"}, R"(lacks "script")"},
        {{"--tx", raw, "--prevouts", R"([{"value": -1, "script": ""}])"},
         "whole number of satoshis"},
        {{"--tx", raw, "--prevouts", R"([{"value": 1.5, "script": ""}])"},
         "whole number of satoshis"},
        {{"--tx", raw, "--prevouts", R"([{"value": 1, "satoshis": 1, "script": ""}])"}, "give one"},
        {{"--tx", raw, "--prevouts", R"([{"value": 1, "script": "xy"}])"},
         "--prevouts[0] script is not hex"},
        {{"--tx", raw + "00", "--prevouts", "[]"}, "byte offset 226"},
    };
    for (const Case& c : cases) {
        std::vector<std::string> args{"tx", "verify"};
        args.insert(args.end(), c.args.begin(), c.args.end());
        const CliResult r = run_cli(args);
        EXPECT_EQ(r.exit_code, 2) << c.message;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    }
}

TEST(TxVerify, ReferenceSpendIsValidWithPrevoutsFromAFile) {
    TempDir dir;
    const std::string path = dir.path("prevouts.json");
    write_file(path,
               prevouts_json(spend()["spent_output"]["satoshis"].get<long long>(), key_script()),
               0644);
    const CliResult r =
        run_cli({"tx", "verify", "--tx", spend()["signed_tx"], "--prevouts", "@" + path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.json()["valid"], true);
    EXPECT_EQ(r.json()["txid"], spend()["txid"]);
    EXPECT_EQ(r.json()["fee"], 226);
}

}  // namespace
}  // namespace raregen::test
