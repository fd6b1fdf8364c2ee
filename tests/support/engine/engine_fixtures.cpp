#include "tests/support/engine/engine_fixtures.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "engine/chain/bytes.h"
#include "engine/chain/hash.h"
#include "tools/gen/intent_gen.h"

namespace raregen::testing {

TempDir::TempDir() {
    char t[] = "/tmp/raregen_test_XXXXXX";
    const char* made = ::mkdtemp(t);
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    m_path = made;
}

TempDir::~TempDir() {
    std::system(("rm -rf '" + m_path + "'").c_str());
}

Intents write_intents(const TempDir& dir, std::size_t n, double invalid_share, std::uint64_t seed) {
    ingest::IntentGenOptions o;
    o.count = n;
    o.signers = 3;
    o.invalid_share = invalid_share;
    o.seed = seed;
    o.timestamp =
        std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
    ingest::IntentGenerator gen(o);
    Intents out;
    out.file = dir.path("intents-" + std::to_string(seed) + ".ndjson");
    out.registered = dir.path("registered-" + std::to_string(seed) + ".txt");
    std::ofstream(out.registered) << gen.registry_text();
    std::ofstream f(out.file);
    std::string line;
    while (!gen.done()) {
        gen.next(line);
        f << line << '\n';
    }
    out.valid = gen.emitted(ingest::GeneratedKind::valid);
    return out;
}

std::vector<std::string> read_lines(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) lines.push_back(line);
    return lines;
}

std::vector<chain::Utxo> make_utxos(std::size_t n, std::uint64_t salt) {
    std::vector<chain::Utxo> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t x[2] = {i, salt};
        v[i].outpoint.txid =
            chain::sha256(chain::ByteSpan(reinterpret_cast<const std::uint8_t*>(x), sizeof x));
        v[i].outpoint.vout = static_cast<std::uint32_t>(i % 5);
        v[i].value = 100;
    }
    return v;
}

chain::PublicationKey test_key() {
    chain::Bytes secret(32, 0x37);
    return chain::PublicationKey(*chain::PrivateKey::from_bytes(secret));
}

std::vector<jobs::HandedOver> read_output(const std::string& path) {
    std::vector<jobs::HandedOver> v;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        const auto bytes = chain::from_hex(line);
        EXPECT_TRUE(bytes.has_value()) << "a line that is not hex in " << path;
        if (!bytes) continue;
        auto h = jobs::handed_over(*bytes);
        EXPECT_TRUE(h.has_value()) << "a line that is not a transaction in " << path;
        if (h) v.push_back(std::move(*h));
    }
    return v;
}

}  // namespace raregen::testing
