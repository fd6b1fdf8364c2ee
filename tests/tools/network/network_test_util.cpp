#include "tests/tools/network/network_test_util.h"

#include <gtest/gtest.h>

#include <array>

#include "engine/chain/ecdsa.h"
#include "engine/chain/hash.h"
#include "engine/chain/keys.h"
#include "engine/chain/script.h"
#include "engine/chain/sighash.h"

namespace raregen::network::test {

NetworkOptions test_options() {
    NetworkOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.block_interval_ms = 0;
    o.threads = 4;
    o.callback_backoff_ms = 10;
    o.callback_timeout_ms = 5000;
    o.keep_alive_timeout_s = 1;
    return o;
}

TestNet::TestNet(NetworkOptions options) : net(std::make_unique<ArcNetwork>(std::move(options))) {
    net->start();
    url = net->url();
}

HttpResponse get(const std::string& url, const std::vector<std::string>& headers) {
    HttpRequest req;
    req.url = url;
    req.headers = headers;
    req.timeout_ms = 10'000;
    return http_request(req);
}

HttpResponse post(const std::string& url, const std::string& body, const std::string& type,
                  std::vector<std::string> headers, long timeout_ms) {
    HttpRequest req;
    req.method = "POST";
    req.url = url;
    req.body = body;
    headers.push_back("Content-Type: " + type);
    req.headers = std::move(headers);
    req.timeout_ms = timeout_ms;
    return http_request(req);
}

Json parse(const HttpResponse& r) {
    EXPECT_TRUE(r.completed) << r.error;
    Json j = Json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
}

Wallet::Wallet()
    : key(chain::PrivateKey::generate()),
      address(chain::p2pkh_address(key.pubkey_hash(), chain::Network::testnet)) {}

std::vector<chain::Utxo> fund(const std::string& url, const Wallet& wallet, std::int64_t satoshis,
                              int outputs, const std::vector<std::string>& headers) {
    const Json body = {{"address", wallet.address}, {"satoshis", satoshis}, {"outputs", outputs}};
    const HttpResponse r = post(url + "/admin/fund", body.dump(), "application/json", headers);
    EXPECT_EQ(r.status, 200) << r.body;
    const Json j = parse(r);
    std::vector<chain::Utxo> out;
    const auto txid = chain::hash_from_display(j.at("txid").get<std::string>());
    EXPECT_TRUE(txid.has_value());
    for (const Json& o : j.at("outputs")) {
        chain::Utxo u;
        u.outpoint.txid = *txid;
        u.outpoint.vout = o.at("vout").get<std::uint32_t>();
        u.value = o.at("satoshis").get<std::int64_t>();
        out.push_back(u);
    }
    return out;
}

BuiltTx publication(const Wallet& wallet, const chain::Utxo& utxo, std::uint8_t tag,
                    chain::FeeRate rate) {
    std::array<std::uint8_t, 32> record{};
    record[0] = tag;
    record[1] = static_cast<std::uint8_t>(utxo.outpoint.vout);
    const chain::RaregenPayload payload = chain::raregen_payload(record);
    const chain::ByteSpan pushes[] = {payload.span()};
    chain::PublicationOptions options;
    options.change = true;
    options.fee_rate = rate;
    chain::PublicationBuilder builder;
    BuiltTx out;
    const chain::BuildResult r = builder.build(wallet.key, utxo, pushes, options, out.raw, &out.ef);
    EXPECT_TRUE(r.ok()) << chain::build_error_message(r);
    out.txid = chain::hash_to_display(r.txid);
    return out;
}

BuiltTx sign_all(const Wallet& wallet, chain::Transaction tx) {
    const chain::SighashCache cache = chain::SighashCache::compute(tx);
    std::vector<chain::Bytes> scripts;
    for (std::size_t i = 0; i < tx.inputs.size(); ++i) {
        const chain::TxOut& prev = *tx.inputs[i].prev;
        const chain::Hash256 digest = chain::signature_hash(tx, cache, i, prev.script, prev.value,
                                                            chain::sighash::k_all_forkid);
        chain::DerSignature sig;
        EXPECT_TRUE(
            chain::Secp256k1::for_this_thread().sign(digest, wallet.key.private_key(), sig));
        chain::Bytes with_type(sig.span().begin(), sig.span().end());
        with_type.push_back(static_cast<std::uint8_t>(chain::sighash::k_all_forkid));
        chain::Bytes script;
        chain::Writer w(script);
        chain::write_push(w, with_type);
        chain::write_push(w, wallet.key.public_key().span());
        scripts.push_back(std::move(script));
    }
    // The sighash does not cover unlocking scripts, so they go in after.
    for (std::size_t i = 0; i < tx.inputs.size(); ++i)
        tx.inputs[i].script_sig = std::move(scripts[i]);
    BuiltTx out;
    out.raw = chain::serialize(tx);
    EXPECT_TRUE(chain::serialize(tx, chain::TxFormat::extended, out.ef));
    out.txid = chain::hash_to_display(chain::compute_txid(tx));
    return out;
}

std::string bin(const chain::Bytes& bytes) {
    return std::string(bytes.begin(), bytes.end());
}

}  // namespace raregen::network::test
