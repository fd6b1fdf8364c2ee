#include "stages/ingest/base64.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace raregen::ingest {
namespace {

std::string decode(std::string_view text, std::size_t room = 72) {
    std::vector<std::uint8_t> out(room);
    const auto n = base64_decode(text, out);
    if (!n) return "<invalid>";
    return std::string(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*n));
}

TEST(Base64, Rfc4648Vectors) {
    const std::array<std::pair<const char*, const char*>, 7> vectors{{{"", ""},
                                                                      {"f", "Zg=="},
                                                                      {"fo", "Zm8="},
                                                                      {"foo", "Zm9v"},
                                                                      {"foob", "Zm9vYg=="},
                                                                      {"fooba", "Zm9vYmE="},
                                                                      {"foobar", "Zm9vYmFy"}}};
    for (const auto& [plain, encoded] : vectors) {
        std::string out;
        base64_append(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(plain),
                                                    std::strlen(plain)),
                      out);
        EXPECT_EQ(out, encoded);
        EXPECT_EQ(decode(encoded), plain);
    }
}

TEST(Base64, UnpaddedAndUrlSafe) {
    EXPECT_EQ(decode("Zg"), "f");
    EXPECT_EQ(decode("Zm8"), "fo");
    EXPECT_EQ(decode("Zm9vYg"), "foob");
    // 0xfb 0xff 0xbf: "+/+/" standard, "-_-_" URL-safe.
    EXPECT_EQ(decode("-_-_"), decode("+/+/"));
    EXPECT_EQ(decode("+/+/"), std::string("\xfb\xff\xbf"));
}

TEST(Base64, Refusals) {
    for (const char* bad : {"Z", "Zm9vY", "Zg=", "Zg===", "Zm8==", "Z===", "====", "Zm 9v",
                            "Zm9v\n", "Zm=v", "Zm9v!", "=Zm9"}) {
        EXPECT_EQ(decode(bad), "<invalid>") << bad;
    }
    // Output room is enforced: 72 bytes fit, 73 do not.
    std::string enc72, enc73;
    const std::vector<std::uint8_t> b72(72, 0x30), b73(73, 0x30);
    base64_append(b72, enc72);
    base64_append(b73, enc73);
    EXPECT_EQ(decode(enc72).size(), 72u);
    EXPECT_EQ(decode(enc73), "<invalid>");
}

}  // namespace
}  // namespace raregen::ingest
