#pragma once
// The local ARC-compatible network as the end-to-end tests use it: the
// built `raregen network serve` as a child process (stopped with SIGTERM
// when the object goes away, whatever the test's outcome), plus what the
// tests ask of it: funding a key and splitting publish UTXOs through the
// CLI, and the set of publication transactions it accepted.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/tools/raregen/cli_runner.h"

namespace raregen::test {

class LocalNetwork {
  public:
    // Starts the network with `flags` added to `serve`; its stdout/stderr go
    // to dir/<name>.out and .err. Fails the test (ADD_FAILURE) and leaves
    // url() empty if it does not come up.
    LocalNetwork(const TempDir& dir, const std::vector<std::string>& flags,
                 const std::string& name = "network");
    ~LocalNetwork();
    LocalNetwork(const LocalNetwork&) = delete;
    LocalNetwork& operator=(const LocalNetwork&) = delete;

    const std::string& url() const { return m_url; }
    // GET/POST url()+path; the answer as JSON (null if not 2xx JSON).
    nlohmann::json get(const std::string& path) const;
    nlohmann::json post(const std::string& path, const nlohmann::json& body) const;
    std::uint64_t accepted_count() const;  // /admin/stats txs.accepted

    // Funds the address of `key_file` and splits it into `count` 100-sat
    // UTXOs written to `utxo_file` (`raregen network fund`, `raregen utxos
    // split`). True on success; the failure is reported to gtest.
    bool fund_and_split(const std::string& key_file, std::size_t count,
                        const std::string& utxo_file) const;

  private:
    pid_t m_pid = -1;
    std::string m_url;
};

// The publication transactions the network accepted (GET /admin/txs).
struct AcceptedSet {
    std::map<std::string, std::vector<std::string>> txids_by_record;  // record hash -> txids
    std::map<std::string, std::string> outpoint_by_txid;              // txid -> "TXID:VOUT" spent
    std::map<std::string, std::vector<std::string>> txids_by_outpoint;
    std::vector<std::int64_t> accepted_ms;  // one per publication
    std::size_t publications = 0;
    std::vector<std::string> problems;  // unparseable entries
};
AcceptedSet accepted_publications(const LocalNetwork& network);

}  // namespace raregen::test
