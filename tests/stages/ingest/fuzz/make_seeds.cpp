// Writes the seed corpus for raregen_ingest_fuzz into a directory, from the
// intent generator, so nothing signed is committed (the generator's keys come
// from the OS and differ every run; each seed carries its own registry, see
// fuzz_input.h):
// - every kind the generator makes (valid, bad schema in its variants,
//   stale, replayed nonce, bad signature, unknown and revoked signer), each
//   as `REGISTRY \0 INTENT` with the generator's registry, dated just before
//   fuzz::k_now so the valid ones are accepted;
// - registries alone: the generator's, and a hand-written one with
//   comments, CRLF, tabs and every status spelling;
// - an intent alone (tried as a registry too, and judged with none).
//
// usage: raregen_ingest_fuzz_seeds OUT_DIR
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/stages/ingest/fuzz/fuzz_input.h"
#include "tools/gen/intent_gen.h"

namespace {

using namespace raregen::ingest;

constexpr const char* k_hand_registry =
    "# registered signers\r\n"
    "\r\n"
    "02a1633cafcc01ebfb6d78e39f687a1f0995c62fc95f51ead10a02ee0be551b5dc active\r\n"
    "03F8D6A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E\trevoked # old key\n"
    "  02c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4\n"
    "0379be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798 inactive";

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    try {
        const std::filesystem::path out = argv[1];
        std::filesystem::create_directories(out);
        std::size_t written = 0;
        const auto write = [&](const std::string& bytes) {
            std::ofstream f(out / ("seed_" + std::to_string(written++)), std::ios::binary);
            f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
            if (!f) throw std::runtime_error("cannot write into " + out.string());
        };

        IntentGenOptions o;
        o.count = 36;  // with half invalid: every kind, every bad_schema variant
        o.signers = 2;
        o.invalid_share = 0.5;
        o.seed = 8785;
        o.timestamp = fuzz::k_now;
        IntentGenerator gen(o);
        const std::string registry = gen.registry_text();
        std::string line, first_valid;
        while (!gen.done()) {
            const GeneratedKind kind = gen.next(line);
            write(registry + '\0' + line);
            if (kind == GeneratedKind::valid && first_valid.empty()) first_valid = line;
        }
        write(registry);
        write(k_hand_registry);
        write(first_valid);
        std::printf("raregen_ingest_fuzz_seeds: %zu seeds in %s\n", written, out.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "raregen_ingest_fuzz_seeds: %s\n", e.what());
        return 1;
    }
}
