// ARC's endpoints, bodies and validation codes, over real HTTP on loopback.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "engine/chain/bytes.h"
#include "engine/chain/script.h"
#include "tests/tools/network/network_test_util.h"

namespace raregen::network::test {
namespace {

std::string json_tx(const chain::Bytes& b) {
    return Json{{"rawTx", chain::to_hex(b)}}.dump();
}

TEST(ArcNetwork, PolicyAndHealth) {
    TestNet t;
    const Json policy = parse(get(t.url + "/v1/policy"));
    EXPECT_EQ(policy["policy"]["miningFee"]["satoshis"], 100);
    EXPECT_EQ(policy["policy"]["miningFee"]["bytes"], 1000);
    EXPECT_EQ(policy["policy"]["maxtxsizepolicy"], 10'000'000);
    EXPECT_TRUE(policy.contains("timestamp"));
    const Json health = parse(get(t.url + "/v1/health"));
    EXPECT_EQ(health["healthy"], true);
}

TEST(ArcNetwork, AcceptedSeenThenMined) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx tx = publication(w, utxos[0]);
    const HttpResponse r = post(t.url + "/v1/tx", bin(tx.ef), k_bin);
    ASSERT_EQ(r.status, 200) << r.body;
    const Json j = parse(r);
    EXPECT_EQ(j["txid"], tx.txid);
    EXPECT_EQ(j["txStatus"], "SEEN_ON_NETWORK");
    EXPECT_EQ(j["status"], 200);
    EXPECT_EQ(j["title"], "OK");

    Json s = parse(get(t.url + "/v1/tx/" + tx.txid));
    EXPECT_EQ(s["txStatus"], "SEEN_ON_NETWORK");
    EXPECT_EQ(s["blockHeight"], 0);

    const std::uint64_t height = t.net->mine_block();
    EXPECT_EQ(height, test_options().start_height + 1);
    s = parse(get(t.url + "/v1/tx/" + tx.txid));
    EXPECT_EQ(s["txStatus"], "MINED");
    EXPECT_EQ(s["blockHeight"], height);
    EXPECT_EQ(s["blockHash"].get<std::string>().size(), 64u);

    const Json txs = parse(get(t.url + "/admin/txs"));
    ASSERT_EQ(txs["txs"].size(), 1u);  // the funding tx is not listed
    EXPECT_EQ(txs["txs"][0]["txid"], tx.txid);
    EXPECT_EQ(txs["txs"][0]["rawTx"], chain::to_hex(tx.raw));
    EXPECT_EQ(txs["txs"][0]["txStatus"], "MINED");

    const HttpResponse unknown = get(t.url + "/v1/tx/" + std::string(64, 'a'));
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(parse(unknown)["status"], 404);
}

TEST(ArcNetwork, OutputsChainIntoNextTransaction) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx parent = publication(w, utxos[0]);
    ASSERT_EQ(post(t.url + "/v1/tx", bin(parent.ef), k_bin).status, 200);
    // Spend the parent's change (output 1) with a raw child: the network knows it.
    chain::Transaction ptx;
    ASSERT_TRUE(chain::parse_transaction(parent.raw, ptx).ok());
    chain::Utxo change{{chain::compute_txid(ptx), 1}, ptx.outputs[1].value};
    const BuiltTx child = publication(w, change);
    const HttpResponse r = post(t.url + "/v1/tx", bin(child.raw), k_bin);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(parse(r)["txStatus"], "SEEN_ON_NETWORK");
}

TEST(ArcNetwork, BatchInEveryContentType) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 9);
    std::vector<BuiltTx> txs;
    for (const auto& u : utxos)
        txs.push_back(publication(w, u));

    std::string binary;
    for (int i = 0; i < 3; ++i)
        binary += bin(txs[i].ef);
    Json arr = Json::array();
    for (int i = 3; i < 6; ++i)
        arr.push_back({{"rawTx", chain::to_hex(txs[i].ef)}});
    std::string text;
    for (int i = 6; i < 9; ++i)
        text += chain::to_hex(txs[i].ef) + "\n";

    const std::pair<std::string, std::string> bodies[] = {
        {binary, k_bin}, {arr.dump(), "application/json"}, {text, "text/plain"}};
    for (int b = 0; b < 3; ++b) {
        const HttpResponse r = post(t.url + "/v1/txs", bodies[b].first, bodies[b].second);
        ASSERT_EQ(r.status, 200) << bodies[b].second << ": " << r.body;
        const Json j = parse(r);
        ASSERT_TRUE(j.is_array());
        ASSERT_EQ(j.size(), 3u) << r.body;
        std::set<std::string> want, got;
        for (int i = 0; i < 3; ++i)
            want.insert(txs[3 * b + i].txid);
        for (const Json& e : j) {
            EXPECT_EQ(e["txStatus"], "SEEN_ON_NETWORK") << bodies[b].second;
            got.insert(e["txid"].get<std::string>());
        }
        EXPECT_EQ(got, want) << bodies[b].second;
    }
    EXPECT_EQ(t.net->stats()["txs"]["accepted"], 9);
}

TEST(ArcNetwork, BatchPutsSuccessesFirst) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 2);
    const BuiltTx good = publication(w, utxos[0]);
    chain::Utxo unknown = utxos[1];
    unknown.outpoint.txid[0] ^= 1;  // not on this network: raw form gets 460
    const BuiltTx bad = publication(w, unknown);
    const HttpResponse r = post(t.url + "/v1/txs", bin(bad.raw) + bin(good.ef), k_bin);
    ASSERT_EQ(r.status, 200);
    const Json j = parse(r);
    ASSERT_EQ(j.size(), 2u);
    EXPECT_EQ(j[0]["txid"], good.txid);
    EXPECT_EQ(j[0]["txStatus"], "SEEN_ON_NETWORK");
    EXPECT_EQ(j[1]["txid"], bad.txid);
    EXPECT_EQ(j[1]["status"], 460);
    EXPECT_EQ(j[1]["type"], "https://bitcoin-sv.github.io/arc/#/errors?id=_460");
}

TEST(ArcNetwork, ResubmissionReturnsStoredStatus) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx tx = publication(w, utxos[0]);
    ASSERT_EQ(post(t.url + "/v1/tx", bin(tx.ef), k_bin).status, 200);
    t.net->mine_block();
    // Same bytes again, raw this time: its input is spent by itself, which is no conflict.
    const HttpResponse r = post(t.url + "/v1/tx", bin(tx.raw), k_bin);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(parse(r)["txStatus"], "MINED");
    const Json stats = t.net->stats();
    EXPECT_EQ(stats["txs"]["resubmitted"], 1);
    EXPECT_EQ(stats["txs"]["accepted"], 1);
    EXPECT_EQ(parse(get(t.url + "/admin/txs"))["txs"].size(), 1u);
}

TEST(ArcNetwork, DoubleSpendNamesTheCompetingTx) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx first = publication(w, utxos[0], 1);
    const BuiltTx second = publication(w, utxos[0], 2);
    ASSERT_NE(first.txid, second.txid);
    ASSERT_EQ(post(t.url + "/v1/tx", bin(first.ef), k_bin).status, 200);
    const HttpResponse r = post(t.url + "/v1/tx", bin(second.ef), k_bin);
    ASSERT_EQ(r.status, 200) << r.body;
    const Json j = parse(r);
    EXPECT_EQ(j["txStatus"], "DOUBLE_SPEND_ATTEMPTED");
    EXPECT_EQ(j["txid"], second.txid);
    ASSERT_EQ(j["competingTxs"].size(), 1u);
    EXPECT_EQ(j["competingTxs"][0], first.txid);
    // The losing side is kept, as ARC keeps it: looked up (or sent again) it
    // answers DOUBLE_SPEND_ATTEMPTED with the winner, and it spent nothing.
    const HttpResponse look = get(t.url + "/v1/tx/" + second.txid);
    ASSERT_EQ(look.status, 200) << look.body;
    EXPECT_EQ(parse(look)["txStatus"], "DOUBLE_SPEND_ATTEMPTED");
    EXPECT_EQ(parse(look)["competingTxs"][0], first.txid);
    const HttpResponse again = post(t.url + "/v1/tx", bin(second.ef), k_bin);
    EXPECT_EQ(parse(again)["txStatus"], "DOUBLE_SPEND_ATTEMPTED");
    EXPECT_EQ(parse(get(t.url + "/v1/tx/" + first.txid))["txStatus"], "SEEN_ON_NETWORK");
    EXPECT_EQ(t.net->stats()["txs"]["double_spends"], 1);
}

TEST(ArcNetwork, BadSignatureIs461) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx tx = publication(w, utxos[0]);
    chain::Transaction parsed;
    ASSERT_TRUE(chain::parse_transaction(tx.ef, parsed).ok());
    parsed.outputs[1].value -= 1;  // the signature no longer covers the outputs
    chain::Bytes ef;
    ASSERT_TRUE(chain::serialize(parsed, chain::TxFormat::extended, ef));
    const HttpResponse r = post(t.url + "/v1/tx", bin(ef), k_bin);
    EXPECT_EQ(r.status, 461);
    const Json j = parse(r);
    EXPECT_EQ(j["status"], 461);
    EXPECT_EQ(j["txid"], chain::hash_to_display(chain::compute_txid(parsed)));
    EXPECT_NE(j["detail"].get<std::string>().find("input 0"), std::string::npos) << j.dump();
}

TEST(ArcNetwork, FeeBelowPolicyIs465) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx tx = publication(w, utxos[0]);  // pays 100 sat/kB
    const HttpResponse p =
        post(t.url + "/admin/policy", R"({"satoshis":500,"bytes":1000})", "application/json");
    ASSERT_EQ(p.status, 200) << p.body;
    EXPECT_EQ(parse(get(t.url + "/v1/policy"))["policy"]["miningFee"]["satoshis"], 500);
    const HttpResponse r = post(t.url + "/v1/tx", bin(tx.ef), k_bin);
    EXPECT_EQ(r.status, 465);
    const Json j = parse(r);
    EXPECT_NE(j["detail"].get<std::string>().find("needed"), std::string::npos);
    // The input was not spent: at the new rate a rebuilt tx is accepted.
    const BuiltTx rich = publication(w, utxos[0], 0, chain::FeeRate{500, 1000});
    EXPECT_EQ(post(t.url + "/v1/tx", bin(rich.ef), k_bin).status, 200);
}

TEST(ArcNetwork, RawNeedsAKnownInput) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx known = publication(w, utxos[0]);
    const HttpResponse ok = post(t.url + "/v1/tx", chain::to_hex(known.raw), "text/plain");
    EXPECT_EQ(ok.status, 200) << ok.body;

    chain::Utxo elsewhere = utxos[0];
    elsewhere.outpoint.txid[5] ^= 0x40;
    const BuiltTx raw = publication(w, elsewhere);
    const HttpResponse r460 = post(t.url + "/v1/tx", json_tx(raw.raw), "application/json");
    EXPECT_EQ(r460.status, 460);
    EXPECT_EQ(parse(r460)["title"], "Not extended format");
    // The same transaction in EF: the network can read the value but the output does not exist.
    const HttpResponse r462 = post(t.url + "/v1/tx", json_tx(raw.ef), "application/json");
    EXPECT_EQ(r462.status, 462);
}

// A body that cannot be read as transactions is a bad request as a whole,
// as ARC answers it: 400, one error object naming no transaction.
TEST(ArcNetwork, UnreadableBodiesAre400) {
    TestNet t;
    const HttpResponse r = post(t.url + "/v1/txs", "hello, world", k_bin);
    EXPECT_EQ(r.status, 400);
    const Json j = parse(r);
    EXPECT_TRUE(j.is_object());  // one error object for the whole request
    EXPECT_EQ(j["status"], 400);
    EXPECT_TRUE(!j.contains("txid") || j["txid"].is_null() || j["txid"] == "") << j.dump();
    EXPECT_EQ(post(t.url + "/v1/tx", "zz", "text/plain").status, 400);
    EXPECT_EQ(post(t.url + "/v1/tx", "0100", "text/plain").status, 400);
    EXPECT_EQ(post(t.url + "/v1/tx", "{nope", "application/json").status, 400);
    EXPECT_EQ(post(t.url + "/v1/txs", "", k_bin).status, 400);
    EXPECT_EQ(post(t.url + "/v1/tx", "00", "image/png").status, 400);
}

// ARC refuses a request whose X-WaitFor is not one of its statuses.
TEST(ArcNetwork, AnUnknownWaitForIs400) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx tx = publication(w, utxos[0]);
    http::HttpRequest rq;
    rq.method = "POST";
    rq.url = t.url + "/v1/tx";
    rq.body = std::string(tx.ef.begin(), tx.ef.end());
    rq.headers = {"Content-Type: application/octet-stream", "X-WaitFor: SEEN"};
    const HttpResponse bad = http::http_request(rq);
    EXPECT_EQ(bad.status, 400) << bad.body;
    EXPECT_NE(bad.body.find("X-WaitFor"), std::string::npos) << bad.body;
    rq.headers.back() = "X-WaitFor: STORED";
    const HttpResponse ok = http::http_request(rq);
    EXPECT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(parse(ok)["txStatus"], "STORED");
}

TEST(ArcNetwork, DataOutputCarryingSatoshisIs464) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    chain::Transaction tx;
    chain::TxIn in;
    in.prevout = utxos[0].outpoint;
    const chain::P2pkhScript lock = w.key.locking_script();
    in.prev = chain::TxOut{utxos[0].value, chain::Bytes(lock.begin(), lock.end())};
    tx.inputs.push_back(in);
    chain::Bytes data;
    chain::Writer dw(data);
    const chain::Bytes payload = {'h', 'i'};
    const chain::ByteSpan pushes[] = {payload};
    chain::write_data_script(dw, pushes);
    tx.outputs.push_back({1, data});  // must be 0
    tx.outputs.push_back({900, chain::Bytes(lock.begin(), lock.end())});
    const BuiltTx signed_tx = sign_all(w, tx);
    const HttpResponse r = post(t.url + "/v1/tx", bin(signed_tx.ef), k_bin);
    EXPECT_EQ(r.status, 464) << r.body;
    EXPECT_EQ(parse(r)["txid"], signed_tx.txid);

    tx.outputs[0].value = 0;  // the same, valid
    EXPECT_EQ(post(t.url + "/v1/tx", bin(sign_all(w, tx).ef), k_bin).status, 200);
}

TEST(ArcNetwork, ApiKeyRequiredWhenConfigured) {
    const std::string path =
        ::testing::TempDir() + "arc_key_" + std::to_string(reinterpret_cast<std::uintptr_t>(&path));
    { std::ofstream(path) << "s3cret-key\n"; }
    NetworkOptions o = test_options();
    o.api_key_file = path;
    TestNet t(o);
    const HttpResponse none = get(t.url + "/v1/policy");
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(parse(none)["status"], 401);
    EXPECT_EQ(none.body.find("s3cret"), std::string::npos);
    EXPECT_EQ(get(t.url + "/v1/policy", {"Authorization: Bearer wrong"}).status, 401);
    EXPECT_EQ(post(t.url + "/v1/tx", "00", k_bin).status, 401);
    EXPECT_EQ(get(t.url + "/admin/stats").status, 401);
    EXPECT_EQ(get(t.url + "/v1/policy", {"Authorization: Bearer s3cret-key"}).status, 200);
    std::remove(path.c_str());
}

TEST(ArcNetwork, WaitForEchoesEarlyStatusButStoresSeen) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    const BuiltTx tx = publication(w, utxos[0]);
    const HttpResponse r = post(t.url + "/v1/tx", bin(tx.ef), k_bin, {"X-WaitFor: STORED"});
    EXPECT_EQ(parse(r)["txStatus"], "STORED");
    EXPECT_EQ(parse(get(t.url + "/v1/tx/" + tx.txid))["txStatus"], "SEEN_ON_NETWORK");
}

TEST(ArcNetwork, ConcurrentSpendsOfOneOutputAcceptExactlyOne) {
    TestNet t;
    Wallet w;
    const auto utxos = fund(t.url, w, 1000, 1);
    std::vector<BuiltTx> txs;
    for (std::uint8_t i = 0; i < 8; ++i)
        txs.push_back(publication(w, utxos[0], i));
    std::vector<std::string> statuses(txs.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < txs.size(); ++i) {
        threads.emplace_back([&, i] {
            statuses[i] = parse(post(t.url + "/v1/tx", bin(txs[i].ef), k_bin))["txStatus"];
        });
    }
    for (auto& th : threads)
        th.join();
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), "SEEN_ON_NETWORK"), 1);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), "DOUBLE_SPEND_ATTEMPTED"), 7);
}

}  // namespace
}  // namespace raregen::network::test
