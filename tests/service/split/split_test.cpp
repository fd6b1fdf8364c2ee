// The split workflow against the local ARC network over real HTTP: a chain
// of split transactions, each accepted before its outputs reach the sink,
// the change carried from one to the next; a refusal and a sink failure stop
// it with the reason and the right change to continue from.

#include "service/split/split.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "engine/chain/tx.h"
#include "tests/tools/network/network_test_util.h"

namespace raregen::service {
namespace {

namespace nt = network::test;

SplitPlan plan_for(const nt::TestNet& t, const chain::Utxo& funding, std::size_t count,
                   std::size_t per_tx) {
    SplitPlan p;
    p.funding = funding;
    p.count = count;
    p.per_tx = per_tx;
    p.arc_url = t.url;
    return p;
}

TEST(Split, AChainOfAcceptedSplitsHandsEveryOutputOverOnce) {
    nt::TestNet t;
    nt::Wallet w;
    const std::vector<chain::Utxo> funded = nt::fund(t.url, w, 100'000, 1);
    ASSERT_EQ(funded.size(), 1u);
    std::vector<std::size_t> batches;
    std::set<std::string> outpoints;
    const SplitOutcome r = split_funding(
        w.key, plan_for(t, funded[0], 250, 100),
        [&](const std::string& txid, std::span<const chain::Utxo> outs) -> std::string {
            batches.push_back(outs.size());
            for (const chain::Utxo& u : outs) {
                EXPECT_EQ(u.value, 100);
                EXPECT_EQ(chain::hash_to_display(u.outpoint.txid), txid);
                outpoints.insert(chain::format_outpoint(u.outpoint));
            }
            // Accepted before it is handed over: the network knows it.
            EXPECT_EQ(nt::get(t.url + "/v1/tx/" + txid).status, 200);
            return {};
        });
    EXPECT_EQ(r.stop, SplitOutcome::Stop::done) << r.error;
    EXPECT_EQ(r.transactions, 3u);
    EXPECT_EQ(r.outputs, 250u);
    EXPECT_EQ(batches, (std::vector<std::size_t>{100, 100, 50}));
    EXPECT_EQ(outpoints.size(), 250u);
    ASSERT_EQ(r.txids.size(), 3u);
    // The change is the last split's last output, worth what fees left.
    EXPECT_EQ(chain::hash_to_display(r.change.outpoint.txid), r.txids.back());
    EXPECT_EQ(r.change.outpoint.vout, 50u);
    EXPECT_GT(r.change.value, 0);
    EXPECT_LT(r.change.value, 100'000 - 250 * 100);
}

TEST(Split, ARefusedSplitStopsWithTheReasonAndKeepsItsFunding) {
    nt::TestNet t;
    nt::Wallet w;
    chain::Utxo unknown;  // an outpoint the network never saw
    unknown.outpoint.txid[0] = 0x42;
    unknown.outpoint.vout = 3;
    unknown.value = 50'000;
    int handed = 0;
    const SplitOutcome r =
        split_funding(w.key, plan_for(t, unknown, 10, 10),
                      [&](const std::string&, std::span<const chain::Utxo>) -> std::string {
                          ++handed;
                          return {};
                      });
    EXPECT_EQ(r.stop, SplitOutcome::Stop::refused) << r.error;
    EXPECT_NE(r.error.find("did not accept split transaction"), std::string::npos) << r.error;
    EXPECT_EQ(handed, 0);
    EXPECT_EQ(r.transactions, 0u);
    // Refused for good: the funding output is still the one to use.
    EXPECT_EQ(r.change.outpoint.vout, 3u);
    EXPECT_EQ(r.change.value, 50'000);
}

TEST(Split, ASinkFailureStopsAfterThatTransactionWithItsChange) {
    nt::TestNet t;
    nt::Wallet w;
    const std::vector<chain::Utxo> funded = nt::fund(t.url, w, 100'000, 1);
    ASSERT_EQ(funded.size(), 1u);
    int calls = 0;
    const SplitOutcome r =
        split_funding(w.key, plan_for(t, funded[0], 30, 10),
                      [&](const std::string&, std::span<const chain::Utxo>) -> std::string {
                          return ++calls == 2 ? "the table is away" : std::string();
                      });
    EXPECT_EQ(r.stop, SplitOutcome::Stop::sink_failed);
    EXPECT_NE(r.error.find("the table is away"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find(r.txids.back()), std::string::npos) << r.error;
    EXPECT_EQ(r.transactions, 2u);
    // The second split is on the network: continue from its change, not
    // from the funding it spent.
    EXPECT_EQ(chain::hash_to_display(r.change.outpoint.txid), r.txids.back());
}

}  // namespace
}  // namespace raregen::service
