#pragma once
// Shared helpers for the local ARC network tests: a server on a free
// loopback port, HTTP calls through libcurl, a funded key, and signed
// transactions built with the engine's own chain library.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/chain/fees.h"
#include "engine/chain/publication.h"
#include "engine/chain/tx.h"
#include "service/http/http_client.h"
#include "tools/network/arc_network.h"

namespace raregen::network::test {

// The content type of binary (raw or EF) transaction bodies.
inline constexpr const char* k_bin = "application/octet-stream";

using Json = nlohmann::json;
using http::http_request;
using http::HttpRequest;
using http::HttpResponse;

// Options every test starts from: loopback, port 0, no block timer (tests
// mine with mine_block()), fast callback retries.
NetworkOptions test_options();

// A started network; stopped when destroyed.
struct TestNet {
    explicit TestNet(NetworkOptions options = test_options());
    std::unique_ptr<ArcNetwork> net;
    std::string url;
};

HttpResponse get(const std::string& url, const std::vector<std::string>& headers = {});
HttpResponse post(const std::string& url, const std::string& body, const std::string& type,
                  std::vector<std::string> headers = {}, long timeout_ms = 10'000);
Json parse(const HttpResponse& r);  // the body as JSON (fails the test if not JSON)

struct Wallet {
    Wallet();
    chain::PublicationKey key;
    std::string address;
};

// Funds `wallet` through /admin/fund: `outputs` outputs of `satoshis` each.
std::vector<chain::Utxo> fund(const std::string& url, const Wallet& wallet, std::int64_t satoshis,
                              int outputs, const std::vector<std::string>& headers = {});

struct BuiltTx {
    chain::Bytes raw;
    chain::Bytes ef;
    std::string txid;  // display hex
};
// A signed publication transaction (with change) spending `utxo`; `tag`
// varies the payload so two spends of one UTXO differ.
BuiltTx publication(const Wallet& wallet, const chain::Utxo& utxo, std::uint8_t tag = 0,
                    chain::FeeRate rate = {});
// Signs every input of `tx` (whose inputs carry `prev`) with `wallet`'s key
// and returns it in EF.
BuiltTx sign_all(const Wallet& wallet, chain::Transaction tx);

std::string bin(const chain::Bytes& bytes);  // as an octet-stream body

}  // namespace raregen::network::test
