#include "tests/tools/raregen/local_network.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "engine/chain/bytes.h"
#include "engine/chain/publication.h"
#include "engine/chain/tx.h"
#include "service/http/http_client.h"

namespace raregen::test {

LocalNetwork::LocalNetwork(const TempDir& dir, const std::vector<std::string>& flags,
                           const std::string& name) {
    const std::string port_file = dir.path(name + ".port");
    const std::string out = dir.path(name + ".out"), err = dir.path(name + ".err");
    std::vector<std::string> args = {RAREGEN_CLI_PATH, "network",     "serve",  "--listen",
                                     "127.0.0.1:0",    "--port-file", port_file};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    m_pid = ::fork();
    if (m_pid == 0) {
        const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(o, 1);
        ::dup2(e, 2);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    for (int i = 0; i < 600 && m_url.empty(); ++i) {
        std::ifstream in(port_file);
        unsigned port = 0;
        if (in >> port && port != 0) {
            m_url = "http://127.0.0.1:" + std::to_string(port);
            break;
        }
        int status = 0;
        if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
            m_pid = -1;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (m_url.empty()) ADD_FAILURE() << "the local network did not start:\n" << read_file(err);
}

LocalNetwork::~LocalNetwork() {
    if (m_pid > 0) {
        ::kill(m_pid, SIGTERM);
        int status = 0;
        ::waitpid(m_pid, &status, 0);
    }
}

namespace {

nlohmann::json as_json(const http::HttpResponse& r) {
    if (!r.completed || r.status < 200 || r.status >= 300) return nullptr;
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

}  // namespace

nlohmann::json LocalNetwork::get(const std::string& path) const {
    http::HttpRequest rq;
    rq.url = m_url + path;
    rq.timeout_ms = 60'000;
    return as_json(http::http_request(rq));
}

nlohmann::json LocalNetwork::post(const std::string& path, const nlohmann::json& body) const {
    http::HttpRequest rq;
    rq.method = "POST";
    rq.url = m_url + path;
    rq.body = body.dump();
    rq.headers = {"Content-Type: application/json"};
    rq.timeout_ms = 60'000;
    return as_json(http::http_request(rq));
}

std::uint64_t LocalNetwork::accepted_count() const {
    const nlohmann::json s = get("/admin/stats");
    if (s.is_null()) return 0;
    return s.at("txs").at("accepted").get<std::uint64_t>();
}

bool LocalNetwork::fund_and_split(const std::string& key_file, std::size_t count,
                                  const std::string& utxo_file) const {
    const CliResult key = run_cli({"keys", "address", "--wif-file", key_file});
    if (key.exit_code != 0) {
        ADD_FAILURE() << key.err;
        return false;
    }
    const std::string address = key.json().at("address");
    const CliResult fund = run_cli({"network", "fund", "--url", m_url, "--address", address,
                                    "--satoshis", std::to_string(count * 100 + 1'000'000)});
    if (fund.exit_code != 0) {
        ADD_FAILURE() << fund.err;
        return false;
    }
    const nlohmann::json f = fund.json();
    const std::string from = f.at("txid").get<std::string>() + ":" +
                             std::to_string(f.at("outputs").at(0).at("vout").get<int>()) + ":" +
                             std::to_string(f.at("outputs").at(0).at("satoshis").get<long long>());
    const CliResult split =
        run_cli({"utxos", "split", "--from", from, "--key-file", key_file, "--count",
                 std::to_string(count), "--out", utxo_file, "--arc-url", m_url});
    if (split.exit_code != 0) {
        ADD_FAILURE() << split.err;
        return false;
    }
    return true;
}

AcceptedSet accepted_publications(const LocalNetwork& network) {
    AcceptedSet v;
    const nlohmann::json all = network.get("/admin/txs");
    if (all.is_null()) {
        v.problems.push_back("GET /admin/txs failed");
        return v;
    }
    for (const auto& t : all.at("txs")) {
        const auto bytes = chain::from_hex(t.at("rawTx").get<std::string>());
        chain::Transaction tx;
        if (!bytes || !chain::parse_transaction(*bytes, tx).ok()) {
            v.problems.push_back("unparseable " + t.at("txid").get<std::string>());
            continue;
        }
        const auto record = chain::published_record_hash(tx);
        if (!record) continue;  // a split, not a publication
        const std::string hash = chain::to_hex(*record);
        const std::string txid = t.at("txid").get<std::string>();
        ++v.publications;
        v.txids_by_record[hash].push_back(txid);
        const auto& op = tx.inputs.at(0).prevout;
        const std::string outpoint =
            chain::hash_to_display(op.txid) + ":" + std::to_string(op.vout);
        v.outpoint_by_txid[txid] = outpoint;
        v.txids_by_outpoint[outpoint].push_back(txid);
        v.accepted_ms.push_back(t.value("acceptedMs", std::int64_t{0}));
    }
    return v;
}

}  // namespace raregen::test
