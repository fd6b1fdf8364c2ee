#pragma once
// Fixtures for tests that run the engine in process (tests/service): a
// temporary directory, files of generated intents with their signers'
// registration list, made-up 100-satoshi UTXOs, a fixed publication key, and
// the transactions an engine wrote to its output file, read back the way the
// exactly-once audit compares them.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/chain/publication.h"
#include "engine/chain/tx.h"
#include "storage/jobs/audit.h"

namespace raregen::testing {

// A directory under /tmp, removed with everything in it when destroyed.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string path(const std::string& name) const { return m_path + "/" + name; }

  private:
    std::string m_path;
};

struct Intents {
    std::string file;        // NDJSON, one intent per line
    std::string registered;  // the signers' registration list
    std::size_t valid = 0;
};
// `n` intents (a share of them invalid, of every kind), timestamped now.
Intents write_intents(const TempDir& dir, std::size_t n, double invalid_share, std::uint64_t seed);
// The lines of an intents file.
std::vector<std::string> read_lines(const std::string& path);

// `n` distinct made-up 100-satoshi outpoints (`salt` keeps sets apart).
std::vector<chain::Utxo> make_utxos(std::size_t n, std::uint64_t salt);
// A fixed key (not a secret: tests only).
chain::PublicationKey test_key();
// Every transaction in an engine's output file (hex lines).
std::vector<jobs::HandedOver> read_output(const std::string& path);

}  // namespace raregen::testing
