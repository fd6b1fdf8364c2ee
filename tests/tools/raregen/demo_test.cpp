// `raregen demo` end to end, as the README runs it: its own private
// PostgreSQL and local network, intents POSTed to `raregen serve` by
// `raregen load` (or read from a file by `raregen run`), and the network
// injecting faults on every broadcast (503s, timeouts, dropped connections,
// some after it stored the transaction). The demo's split and its
// exactly-once proof must both hold, at several fault seeds.

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/tools/raregen/cli_runner.h"

namespace raregen::test {
namespace {

struct DemoCase {
    const char* seed;
    std::vector<std::string> extra;  // demo flags
};

nlohmann::json run_demo(const TempDir& dir, const DemoCase& c, const std::string& name) {
    std::vector<std::string> args = {
        "demo", "--intents", "300", "--work-dir", dir.path(name), "--network-arg=--fail",
        "--network-arg=503=0.1", "--network-arg=--timeout-share", "--network-arg=0.05",
        "--network-arg=--timeout-ms", "--network-arg=1500", "--network-arg=--drop-share",
        "--network-arg=0.05", "--network-arg=--seed", std::string("--network-arg=") + c.seed,
        // Small ARC requests: many of them, so faults surely hit.
        "--run-arg=--arc-batch", "--run-arg=10"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    // Nothing of the developer's: a private database, the local network.
    const CliResult r =
        run_cli(CliCall{args, {}, {{"DATABASE_URL", ""}, {"ARC_URL", ""}, {"ARC_API_KEY", ""}}});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.exit_code != 0) return nullptr;
    return r.json();
}

void expect_proof(const nlohmann::json& report, std::size_t intents) {
    ASSERT_TRUE(report.is_object());
    const nlohmann::json& proof = report.at("proof");
    EXPECT_TRUE(proof.at("exactly_once").get<bool>()) << proof.dump(2);
    EXPECT_EQ(proof.at("sent"), intents);
    EXPECT_EQ(proof.at("network_publications"), intents);
    EXPECT_EQ(proof.at("published_twice"), 0);
    EXPECT_EQ(proof.at("outpoint_spent_twice"), 0);
    EXPECT_EQ(proof.at("batches_without_row"), 0);
    // The faults reached the engine's broadcasts: the proof was earned.
    const nlohmann::json& arc = report.at("arc");
    EXPECT_GT(arc.at("retries").get<int>(), 0) << arc.dump(2);
}

TEST(Demo, OverHttpUnderInjectedFaultsEveryAnsweredIntentIsPublishedOnce) {
    TempDir dir;
    const nlohmann::json one = run_demo(dir, {"8", {}}, "seed8");
    expect_proof(one, 300);
    if (one.is_object()) {
        EXPECT_EQ(one.at("via"), "http: raregen serve, fed by raregen load");
        const nlohmann::json& api = one.at("api");
        EXPECT_EQ(api.at("route"), "POST /v1/publish");
        EXPECT_EQ(api.at("accepted").get<int>() + api.at("existing").get<int>(), 300);
        EXPECT_EQ(api.at("unanswered"), 0);
        EXPECT_EQ(one.at("proof").at("jobs_answered_202_or_200"), 300);
        EXPECT_EQ(one.at("proof").at("answered_not_published"), 0);
        // One line per intent in the client's answers, each with its job.
        const std::string answers = read_file(dir.path("seed8/answers.jsonl"));
        EXPECT_EQ(std::count(answers.begin(), answers.end(), '\n'), 300);
    }
    // The batch route, another fault seed, and a tenth of the intents invalid:
    // refused with their reasons, the rest published once.
    const nlohmann::json two =
        run_demo(dir, {"11", {"--batch", "25", "--invalid-share", "0.1"}}, "seed11");
    if (two.is_object()) {
        const nlohmann::json& api = two.at("api");
        EXPECT_EQ(api.at("route"), "POST /v1/publish/batch");
        const int refused = api.at("refused").get<int>();
        EXPECT_GT(refused, 0);
        // A replayed intent (the generator's replays repeat a record) is
        // answered 200 with the first one's job: 202s are the new jobs.
        const int accepted = api.at("accepted").get<int>();
        EXPECT_EQ(accepted + api.at("existing").get<int>() + refused, 300);
        expect_proof(two, static_cast<std::size_t>(accepted));
        EXPECT_EQ(two.at("proof").at("jobs_answered_202_or_200"), accepted);
    }
}

TEST(Demo, FromAFileUnderInjectedFaultsEveryJobIsPublishedOnce) {
    TempDir dir;
    const nlohmann::json r = run_demo(dir, {"8", {"--via", "file"}}, "file");
    expect_proof(r, 300);
    if (r.is_object()) {
        EXPECT_EQ(r.at("via"), "file: raregen run over the intents file");
        EXPECT_FALSE(r.contains("api"));
    }
}

}  // namespace
}  // namespace raregen::test
