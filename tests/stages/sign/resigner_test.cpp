#include "stages/sign/resigner.h"

#include <gtest/gtest.h>

#include "engine/chain/verify.h"

namespace raregen::sign {
namespace {

// A job signed at 100 sat/kB on a 100-satoshi UTXO, as the sign stage does.
model::Job signed_job(Resigner& resigner) {
    model::Job job;
    job.utxo.outpoint.txid.fill(0x42);
    job.utxo.outpoint.vout = 7;
    job.utxo.value = 100;
    job.record_hash.fill(0x11);
    // The first signature: a "re-sign" of an unsigned job at the floor.
    EXPECT_EQ(resigner.resign(job, chain::FeeRate{100, 1000}), Resigner::Result::resigned);
    return job;
}

TEST(Resigner, SignsAgainOnTheSameUtxoAtTheHigherRate) {
    const chain::PublicationKey key(chain::PrivateKey::generate());
    Resigner resigner(key, chain::PublicationOptions{.change = true});
    model::Job job = signed_job(resigner);
    const chain::Hash256 first = job.txid;
    ASSERT_EQ(resigner.resign(job, chain::FeeRate{200, 1000}), Resigner::Result::resigned);
    EXPECT_NE(job.txid, first);
    chain::Transaction tx;
    ASSERT_TRUE(chain::parse_transaction(job.raw.span(), tx).ok());
    ASSERT_EQ(tx.inputs.size(), 1u);
    EXPECT_EQ(tx.inputs[0].prevout, job.utxo.outpoint);
    std::int64_t out = 0;
    for (const auto& o : tx.outputs)
        out += o.value;
    const chain::FeeRate doubled{200, 1000};
    EXPECT_GE(static_cast<std::uint64_t>(100 - out), doubled.fee_for(chain::standard_size(tx)));
    const chain::TxOut prev{100,
                            chain::Bytes(key.locking_script().begin(), key.locking_script().end())};
    EXPECT_EQ(chain::verify_p2pkh_input(tx, chain::SighashCache::compute(tx), 0, prev),
              chain::InputVerifyError::ok);
    EXPECT_EQ(chain::compute_txid(tx), job.txid);
}

TEST(Resigner, TheSameRateAgainIsRefusedAndLeavesTheJobAlone) {
    const chain::PublicationKey key(chain::PrivateKey::generate());
    Resigner resigner(key, chain::PublicationOptions{.change = true});
    model::Job job = signed_job(resigner);
    const model::Job before = job;
    EXPECT_EQ(resigner.resign(job, chain::FeeRate{100, 1000}), Resigner::Result::fee_not_higher);
    EXPECT_EQ(job.txid, before.txid);
    EXPECT_EQ(job.raw.size, before.raw.size);
}

TEST(Resigner, AnUnknownUtxoValueOrAnUnpayableFeeIsRefused) {
    const chain::PublicationKey key(chain::PrivateKey::generate());
    Resigner resigner(key, chain::PublicationOptions{.change = true});
    model::Job job = signed_job(resigner);
    EXPECT_EQ(resigner.resign(job, chain::FeeRate{10'000, 1000}), Resigner::Result::cannot_pay);
    job.utxo.value = 0;  // a job recovered without its EF
    EXPECT_EQ(resigner.resign(job, chain::FeeRate{200, 1000}), Resigner::Result::cannot_pay);
}

}  // namespace
}  // namespace raregen::sign
