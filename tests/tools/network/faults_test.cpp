// Fault injection: seeded error shares, dropped connections, timeouts and
// REJECTED answers, each checked for what the client sees and what the
// network did (applied or not).

#include <gtest/gtest.h>

#include "engine/chain/bytes.h"
#include "tests/tools/network/network_test_util.h"

namespace raregen::network::test {
namespace {

TEST(ArcFaults, ErrorShareIsSeededAndEveryAnswerIsErrorOrCorrect) {
    NetworkOptions o = test_options();
    o.faults.fail = {{503, 0.25}};
    o.faults.seed = 42;
    TestNet t(o);
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 200);  // admin calls are never faulted
    int errors = 0;
    int seen = 0;
    for (const auto& u : utxos) {
        const BuiltTx tx = publication(w, u);
        const HttpResponse r = post(t.url + "/v1/tx", bin(tx.ef), k_bin);
        const Json j = parse(r);
        if (r.status == 503) {
            ++errors;
            EXPECT_EQ(j["status"], 503);
            EXPECT_EQ(j["type"], "https://bitcoin-sv.github.io/arc/#/errors?id=_503");
        } else {
            ASSERT_EQ(r.status, 200) << r.body;
            EXPECT_EQ(j["txStatus"], "SEEN_ON_NETWORK");
            EXPECT_EQ(j["txid"], tx.txid);
            ++seen;
        }
    }
    // 200 draws at 25%: mean 50, sd ~6; [25, 80] is far outside chance.
    EXPECT_GE(errors, 25);
    EXPECT_LE(errors, 80);
    const Json stats = t.net->stats();
    EXPECT_EQ(stats["faults"]["errors"]["503"], errors);
    EXPECT_EQ(stats["txs"]["accepted"], seen);
    // Faults apply only to POST /v1/tx(s).
    for (int i = 0; i < 20; ++i)
        EXPECT_EQ(get(t.url + "/v1/policy").status, 200);

    // The same seed gives the same sequence of answers.
    TestNet again(o);
    const auto utxos2 = fund(again.url, w, 1000, 200);
    int errors2 = 0;
    for (const auto& u : utxos2)
        errors2 += post(again.url + "/v1/tx", bin(publication(w, u).ef), k_bin).status == 503;
    EXPECT_EQ(errors2, errors);
}

TEST(ArcFaults, DroppedConnectionIsAClientErrorAndMayHaveApplied) {
    NetworkOptions o = test_options();
    o.faults.drop_share = 1.0;
    TestNet t(o);
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 10);
    int applied = 0;
    for (const auto& u : utxos) {
        const BuiltTx tx = publication(w, u);
        const HttpResponse r = post(t.url + "/v1/tx", bin(tx.ef), k_bin);
        EXPECT_FALSE(r.completed) << "status " << r.status << " body " << r.body;
        EXPECT_FALSE(r.error.empty());
        applied += get(t.url + "/v1/tx/" + tx.txid).status == 200;
    }
    EXPECT_EQ(t.net->stats()["faults"]["drops"], 10);
    EXPECT_EQ(t.net->stats()["txs"]["accepted"], applied);
}

TEST(ArcFaults, TimeoutAnswersLateEitherAppliedOr504) {
    NetworkOptions o = test_options();
    o.faults.timeout_share = 1.0;
    o.faults.timeout_ms = 50;
    TestNet t(o);
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 8);
    int applied = 0;
    for (const auto& u : utxos) {
        const BuiltTx tx = publication(w, u);
        const HttpResponse r = post(t.url + "/v1/tx", bin(tx.ef), k_bin);
        ASSERT_TRUE(r.completed) << r.error;
        if (r.status == 200) {
            ++applied;
            EXPECT_EQ(parse(r)["txStatus"], "SEEN_ON_NETWORK");
        } else {
            EXPECT_EQ(r.status, 504);
            EXPECT_EQ(get(t.url + "/v1/tx/" + tx.txid).status, 404);  // not applied
        }
    }
    EXPECT_EQ(t.net->stats()["faults"]["timeouts"], 8);
    EXPECT_EQ(t.net->stats()["txs"]["accepted"], applied);
}

TEST(ArcFaults, ClientGivingUpOnALongTimeoutSeesAnError) {
    NetworkOptions o = test_options();
    o.faults.timeout_share = 1.0;
    o.faults.timeout_ms = 60'000;  // stop() wakes the sleeping handler
    TestNet t(o);
    const HttpResponse r = post(t.url + "/v1/tx", "00", k_bin, {}, /*timeout_ms=*/200);
    EXPECT_FALSE(r.completed);
    t.net->stop();
}

TEST(ArcFaults, RejectedIsNotStoredAndLeavesInputsSpendable) {
    NetworkOptions o = test_options();
    o.faults.reject_share = 0.5;
    o.faults.seed = 3;
    TestNet t(o);
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx tx = publication(w, utxos[0]);
    int rejected = 0;
    bool seen = false;
    for (int i = 0; i < 60 && !seen; ++i) {
        const HttpResponse r = post(t.url + "/v1/tx", bin(tx.ef), k_bin);
        ASSERT_EQ(r.status, 200) << r.body;
        const Json j = parse(r);
        if (j["txStatus"] == "REJECTED") {
            ++rejected;
            EXPECT_FALSE(j["extraInfo"].get<std::string>().empty());
            EXPECT_EQ(get(t.url + "/v1/tx/" + tx.txid).status, 404);
            EXPECT_EQ(parse(get(t.url + "/admin/txs"))["txs"].size(), 0u);
        } else {
            EXPECT_EQ(j["txStatus"], "SEEN_ON_NETWORK");
            seen = true;
        }
    }
    EXPECT_TRUE(seen);  // the input stayed spendable through every REJECTED answer
    EXPECT_EQ(t.net->stats()["faults"]["rejects"], rejected);
}

TEST(ArcFaults, LatencyStillAnswers) {
    NetworkOptions o = test_options();
    o.faults.latency_min_ms = 1;
    o.faults.latency_max_ms = 5;
    TestNet t(o);
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 3);
    for (const auto& u : utxos)
        EXPECT_EQ(post(t.url + "/v1/tx", bin(publication(w, u).ef), k_bin).status, 200);
    EXPECT_EQ(t.net->stats()["faults"]["latency"], 3);
}

}  // namespace
}  // namespace raregen::network::test
