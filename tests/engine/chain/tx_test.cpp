#include "engine/chain/tx.h"

#include <gtest/gtest.h>

#include <random>

#include "engine/chain/bytes.h"
#include "engine/chain/script.h"

namespace raregen::chain {
namespace {

Transaction sample_tx() {
    Transaction tx;
    TxIn in;
    in.prevout.txid.fill(0x11);
    in.prevout.vout = 3;
    in.script_sig = Bytes(107, 0x22);
    in.prev = TxOut{100, Bytes(25, 0x33)};
    tx.inputs.push_back(in);
    tx.outputs.push_back(TxOut{0, Bytes{0x00, 0x6a, 0x02, 0xaa, 0xbb}});
    tx.outputs.push_back(TxOut{70, Bytes(25, 0x44)});
    return tx;
}

TEST(Tx, StandardRoundTrip) {
    const Transaction tx = sample_tx();
    const Bytes raw = serialize(tx);
    EXPECT_EQ(raw.size(), standard_size(tx));
    Transaction back;
    const ParseResult r = parse_transaction(raw, back);
    ASSERT_TRUE(r.ok()) << parse_error_message(r.code);
    EXPECT_EQ(r.format, TxFormat::standard);
    EXPECT_EQ(serialize(back), raw);
    EXPECT_FALSE(back.inputs[0].prev.has_value());
}

TEST(Tx, ExtendedFormatRoundTripAndSameTxid) {
    const Transaction tx = sample_tx();
    Bytes ef;
    ASSERT_TRUE(serialize(tx, TxFormat::extended, ef));
    // EF adds the 6-byte marker and, per P2PKH input, 8 value bytes + 1 + 25 script bytes.
    EXPECT_EQ(ef.size(), standard_size(tx) + 6 + 34);
    EXPECT_EQ(to_hex(ByteSpan(ef.data() + 4, 6)), "0000000000ef");
    Transaction back;
    const ParseResult r = parse_transaction(ef, back);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.format, TxFormat::extended);
    ASSERT_TRUE(back.inputs[0].prev.has_value());
    EXPECT_EQ(back.inputs[0].prev->value, 100);
    EXPECT_EQ(compute_txid(back), compute_txid(tx));  // txid never hashes the EF form
}

TEST(Tx, ExtendedNeedsPrevOutputs) {
    Transaction tx = sample_tx();
    tx.inputs[0].prev.reset();
    Bytes out;
    EXPECT_FALSE(serialize(tx, TxFormat::extended, out));
    EXPECT_TRUE(out.empty());
}

TEST(Tx, CompactSizeEncodings) {
    for (std::uint64_t v :
         {0ULL, 1ULL, 0xfcULL, 0xfdULL, 0xffffULL, 0x10000ULL, 0xffffffffULL, 0x100000000ULL}) {
        Bytes b;
        Writer(b).compact_size(v);
        EXPECT_EQ(b.size(), compact_size_len(v));
        Reader r(b);
        std::uint64_t back = 0;
        ASSERT_TRUE(r.compact_size(back));
        EXPECT_EQ(back, v);
    }
}

TEST(Tx, NonMinimalCompactSizeRefused) {
    // Output count 1 written as fd 01 00.
    Transaction tx = sample_tx();
    tx.outputs.resize(1);
    Bytes raw = serialize(tx);
    const std::size_t n_out_pos = raw.size() - 4 - (8 + 1 + 5) - 1;
    ASSERT_EQ(raw[n_out_pos], 1);
    raw[n_out_pos] = 0xfd;
    raw.insert(raw.begin() + static_cast<std::ptrdiff_t>(n_out_pos) + 1, {0x01, 0x00});
    Transaction back;
    const ParseResult r = parse_transaction(raw, back);
    EXPECT_EQ(r.code, ParseErrorCode::non_minimal_size);
    EXPECT_EQ(r.offset, n_out_pos + 3);

    for (const char* hex : {"fe0100000000", "ff0100000000000000", "fdfc00"}) {
        const Bytes encoded = *from_hex(hex);
        Reader rd(encoded);
        std::uint64_t v = 0;
        EXPECT_FALSE(rd.compact_size(v)) << hex;
        EXPECT_TRUE(rd.last_was_non_minimal()) << hex;
    }
}

TEST(Tx, EveryTruncationIsACleanError) {
    const Transaction tx = sample_tx();
    for (TxFormat f : {TxFormat::standard, TxFormat::extended}) {
        Bytes raw;
        ASSERT_TRUE(serialize(tx, f, raw));
        for (std::size_t n = 0; n < raw.size(); ++n) {
            // The 10-byte prefix of an EF tx (version + marker) is itself a
            // complete standard tx: see TenByteStandardTxIsNotMistakenForEf.
            if (f == TxFormat::extended && n == 10) continue;
            Transaction back;
            const ParseResult r = parse_transaction(ByteSpan(raw.data(), n), back);
            EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
            EXPECT_LE(r.offset, n);
        }
    }
}

TEST(Tx, TenByteStandardTxIsNotMistakenForEf) {
    // No inputs, no outputs, lock_time 0xef000000: the bytes of an EF header.
    const Bytes raw = *from_hex("010000000000000000ef");
    Transaction tx;
    const ParseResult r = parse_transaction(raw, tx);
    ASSERT_TRUE(r.ok()) << parse_error_message(r.code);
    EXPECT_EQ(r.format, TxFormat::standard);
    EXPECT_EQ(tx.lock_time, 0xef000000u);
}

TEST(Tx, TrailingBytesRefused) {
    Bytes raw = serialize(sample_tx());
    raw.push_back(0);
    Transaction back;
    EXPECT_EQ(parse_transaction(raw, back).code, ParseErrorCode::trailing_bytes);
}

TEST(Tx, HugeCountsAndLengthsRefusedWithoutAllocating) {
    Transaction back;
    // version, then input count 2^32-1.
    EXPECT_EQ(parse_transaction(*from_hex("01000000feffffffff"), back).code,
              ParseErrorCode::count_too_large);
    EXPECT_EQ(parse_transaction(*from_hex("01000000ffffffffffffffffff"), back).code,
              ParseErrorCode::count_too_large);
    // One input whose script length claims 4 GB.
    Bytes raw = *from_hex("0100000001");
    raw.insert(raw.end(), 36, 0);
    const Bytes huge_len = *from_hex("feffffffff");
    raw.insert(raw.end(), huge_len.begin(), huge_len.end());
    raw.insert(raw.end(), 10, 0);
    EXPECT_EQ(parse_transaction(raw, back).code, ParseErrorCode::length_too_large);
}

TEST(Tx, RandomGarbageNeverCrashes) {
    std::mt19937_64 rng(42);
    const Bytes good = serialize(sample_tx());
    for (int i = 0; i < 20000; ++i) {
        Bytes data = good;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k)
            data[rng() % data.size()] = static_cast<std::uint8_t>(rng());
        if (rng() % 3 == 0) data.resize(rng() % data.size());
        Transaction back;
        const ParseResult r = parse_transaction(data, back);
        if (r.ok()) {
            Bytes again;
            ASSERT_TRUE(serialize(back, r.format, again));
            EXPECT_EQ(again, data);  // whatever parses re-serializes to the same bytes
        }
    }
}

TEST(Tx, OutpointText) {
    const std::string txid = "19dcf16ecc9286c3734fdae3d45d4fc4eb6b25f841131e06460f4939bba0026e";
    const auto o = parse_outpoint(txid + ":7");
    ASSERT_TRUE(o);
    EXPECT_EQ(o->vout, 7u);
    EXPECT_EQ(o->txid[0], 0x6e);  // internal order is reversed
    EXPECT_EQ(format_outpoint(*o), txid + ":7");
    EXPECT_FALSE(parse_outpoint(txid));
    EXPECT_FALSE(parse_outpoint(txid + ":"));
    EXPECT_FALSE(parse_outpoint(txid + ":x"));
    EXPECT_FALSE(parse_outpoint(txid + ":4294967296"));
    EXPECT_FALSE(parse_outpoint("abcd:1"));
}

}  // namespace
}  // namespace raregen::chain
