// The length scanner that splits a binary /v1/txs body.

#include <gtest/gtest.h>

#include "engine/chain/bytes.h"
#include "engine/chain/tx.h"
#include "tools/network/tx_scan.h"

namespace raregen::network {
namespace {

chain::Transaction sample(bool with_prev) {
    chain::Transaction tx;
    chain::TxIn in;
    in.prevout.txid[0] = 7;
    in.prevout.vout = 1;
    in.script_sig = chain::Bytes(107, 0x51);
    if (with_prev) in.prev = chain::TxOut{100, chain::Bytes(25, 0x76)};
    tx.inputs.push_back(in);
    tx.inputs.push_back(in);
    tx.outputs.push_back({0, chain::Bytes(300, 0x00)});  // 3-byte CompactSize length
    tx.outputs.push_back({5, chain::Bytes(25, 0xac)});
    return tx;
}

TEST(TxScan, SplitsConcatenatedRawAndExtended) {
    const chain::Bytes raw = chain::serialize(sample(false));
    chain::Bytes ef;
    ASSERT_TRUE(chain::serialize(sample(true), chain::TxFormat::extended, ef));
    chain::Bytes stream = raw;
    stream.insert(stream.end(), ef.begin(), ef.end());
    stream.insert(stream.end(), raw.begin(), raw.end());

    std::size_t size = 0;
    ASSERT_EQ(scan_transaction_size(stream, size), chain::ParseErrorCode::ok);
    EXPECT_EQ(size, raw.size());
    ASSERT_EQ(scan_transaction_size(chain::ByteSpan(stream).subspan(raw.size()), size),
              chain::ParseErrorCode::ok);
    EXPECT_EQ(size, ef.size());
    ASSERT_EQ(scan_transaction_size(chain::ByteSpan(stream).subspan(raw.size() + ef.size()), size),
              chain::ParseErrorCode::ok);
    EXPECT_EQ(size, raw.size());
}

TEST(TxScan, RefusesTruncatedAndNonMinimal) {
    const chain::Bytes raw = chain::serialize(sample(false));
    std::size_t size = 0;
    for (std::size_t cut = 0; cut < raw.size(); ++cut) {
        EXPECT_NE(scan_transaction_size(chain::ByteSpan(raw).first(cut), size),
                  chain::ParseErrorCode::ok)
            << cut;
    }
    chain::Bytes bad = raw;
    bad[4] = 0xfd;  // input count 2 as fd 02 00: non-minimal
    bad.insert(bad.begin() + 5, {0x02, 0x00});
    EXPECT_EQ(scan_transaction_size(bad, size), chain::ParseErrorCode::non_minimal_size);
    const chain::Bytes huge = {1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x00};
    EXPECT_EQ(scan_transaction_size(huge, size), chain::ParseErrorCode::count_too_large);
}

}  // namespace
}  // namespace raregen::network
