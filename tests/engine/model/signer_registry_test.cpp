#include "engine/model/signer_registry.h"

#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "engine/chain/bytes.h"

namespace raregen::ingest {
namespace {

const std::string k_a = "02a1633cafcc01ebfb6d78e39f687a1f0995c62fc95f51ead10a02ee0be551b5dc";
const std::string k_b = "03F8B2C4D6E8FA0B1C2D3E4F5A6B7C8D9EAFB0C1D2E3F4A5B6C7D8E9FA0B1C2D3E";
const std::string k_c = "02c4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7081";

CompressedPubkey key(const std::string& hex) {
    return *chain::from_hex_fixed<33>(hex);
}

TEST(SignerRegistry, ParsesTheFileFormat) {
    const std::string text =
        "# registered signers\n"
        "\n" +
        k_a + " active\n" + "  " + k_b + "\trevoked   # left the label\r\n" +
        k_c;  // no status, no newline: active
    auto loaded = InMemorySignerRegistry::parse(text, "signers.txt");
    ASSERT_TRUE(loaded) << loaded.error;
    const auto& reg = *loaded.registry;
    EXPECT_EQ(reg.size(), 3u);
    EXPECT_EQ(reg.active_count(), 2u);
    EXPECT_EQ(reg.lookup(key(k_a)), SignerStatus::active);
    EXPECT_EQ(reg.lookup(key(k_b)), SignerStatus::inactive);
    EXPECT_EQ(reg.lookup(key(k_c)), SignerStatus::active);
    auto other = key(k_a);
    other[32] ^= 1;
    EXPECT_EQ(reg.lookup(other), SignerStatus::unknown);
    EXPECT_EQ(reg.lookup(std::span<const std::uint8_t>(other.data(), 20)), SignerStatus::unknown);

    auto inactive = InMemorySignerRegistry::parse(k_a + " inactive\n", "x");
    ASSERT_TRUE(inactive);
    EXPECT_EQ(inactive.registry->lookup(key(k_a)), SignerStatus::inactive);
}

TEST(SignerRegistry, ErrorsNameTheLineAndTheFix) {
    struct Case {
        std::string text;
        std::string expect;  // substring of the error
    };
    const std::vector<Case> cases = {
        {"# ok\n" + k_a + " active\n" + "02zz" + k_a.substr(4) + "\n", "signers.txt:3: "},
        {"02zz" + k_a.substr(4), "is not hex"},
        {k_a.substr(0, 64), "has 64 characters; expected a compressed key of 66 hex digits"},
        {"04" + k_a.substr(2) + k_a.substr(2), "expected a compressed key"},
        {"05" + k_a.substr(2), "does not start with 02 or 03"},
        {k_a + " enabled", "unknown status 'enabled'; use `active` or `revoked`"},
        {k_a + " Active", "unknown status"},
        {k_a + " active extra", "unexpected third field 'extra'"},
        {k_a + "\n" + k_a + " revoked\n", "signers.txt:2: public key " + k_a + " is listed twice"},
    };
    for (const Case& c : cases) {
        const auto loaded = InMemorySignerRegistry::parse(c.text, "signers.txt");
        EXPECT_FALSE(loaded) << c.text;
        EXPECT_NE(loaded.error.find(c.expect), std::string::npos)
            << "error: " << loaded.error << "\nexpected: " << c.expect;
    }
}

TEST(SignerRegistry, EmptyFileIsAnEmptyRegistry) {
    auto loaded = InMemorySignerRegistry::parse("# nobody yet\n\n", "x");
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded.registry->size(), 0u);
}

TEST(SignerRegistry, LoadFile) {
    char name[] = "/tmp/raregen_registry_XXXXXX";
    const int fd = ::mkstemp(name);
    ASSERT_GE(fd, 0);
    const std::string text = k_a + " active\n" + k_b + " revoked\n";
    ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
    auto loaded = InMemorySignerRegistry::load_file(name);
    ::unlink(name);
    ASSERT_TRUE(loaded) << loaded.error;
    EXPECT_EQ(loaded.registry->size(), 2u);

    const auto missing = InMemorySignerRegistry::load_file("/nonexistent/signers.txt");
    EXPECT_FALSE(missing);
    EXPECT_NE(missing.error.find("/nonexistent/signers.txt"), std::string::npos);
    EXPECT_NE(missing.error.find("--registered"), std::string::npos);
}

TEST(SignerRegistry, AddRefusesDuplicates) {
    InMemorySignerRegistry reg;
    EXPECT_TRUE(reg.add(key(k_a), SignerStatus::active));
    EXPECT_FALSE(reg.add(key(k_a), SignerStatus::inactive));
    EXPECT_EQ(reg.lookup(key(k_a)), SignerStatus::active);
    EXPECT_FALSE(reg.add(key(k_b), SignerStatus::unknown));
}

}  // namespace
}  // namespace raregen::ingest
