// `raregen gen intents N --signers K --out FILE --registered FILE`: N signed
// publish intents (NDJSON, one `POST /v1/publish` body per line) from K fresh
// signer keys, and the registration list that admits those signers, for
// `raregen run`, the ingest stage's tests and benchmarks.
//
// With --invalid-share X, that share of the N lines is invalid, spread evenly
// over six kinds (bad schema, stale timestamp, replayed nonce, bad signature,
// unknown signer, revoked signer); the summary says how many of each and the
// reject reason the engine should answer for each. What the records look like
// and how they are signed: tools/gen/intent_gen.h.
//
// Keys: made from the OS random generator and never printed. They are not
// needed after signing; --signer-keys FILE keeps them (mode 0600) for anyone
// who wants to sign more later. --seed fixes the records' content and the
// invalid lines' positions, not the keys, so printing it reveals nothing.
//
// Timestamps: valid records are dated within the minute before --timestamp
// (default: now), so ingest them within about nine minutes of that time (the
// engine refuses records older than ten minutes).

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "stages/ingest/ingest_stage.h"
#include "stages/ingest/intent.h"
#include "tools/gen/intent_gen.h"
#include "tools/raregen/commands.h"
#include "tools/raregen/common.h"

namespace raregen::cli {

namespace {

namespace in = raregen::ingest;

constexpr std::uint64_t k_max_intents = 100'000'000;
constexpr std::uint64_t k_max_signers = 1'000'000;

struct GenIntentsOptions {
    std::uint64_t count = 0;
    std::uint64_t signers = 1;
    std::string out;
    std::string registered;
    double invalid_share = 0.0;
    std::uint64_t seed = 0;
    std::string timestamp = "now";
    std::string signer_keys;
    bool force = false;
};

// A file written beside its destination and moved into place on commit(), so
// no reader sees half of it; removed if never committed.
class StagedFile {
  public:
    explicit StagedFile(std::string path)
        : m_path(std::move(path)), m_tmp(m_path + ".tmp-" + std::to_string(::getpid())) {}
    ~StagedFile() {
        if (m_file != nullptr) std::fclose(m_file);
        if (!m_committed) std::remove(m_tmp.c_str());
    }
    StagedFile(const StagedFile&) = delete;
    StagedFile& operator=(const StagedFile&) = delete;

    // "" or what went wrong.
    std::string open() {
        m_file = std::fopen(m_tmp.c_str(), "wx");
        if (m_file == nullptr) {
            return "cannot create " + m_tmp + ": " + std::strerror(errno) +
                   "; check the directory exists and is writable";
        }
        m_buffer.resize(1 << 16);
        std::setvbuf(m_file, m_buffer.data(), _IOFBF, m_buffer.size());
        return "";
    }
    bool write(std::string_view text) {
        return m_ok = m_ok && std::fwrite(text.data(), 1, text.size(), m_file) == text.size();
    }
    std::string commit(bool overwrite) {
        const int write_errno = errno;
        const bool closed = std::fclose(m_file) == 0;
        m_file = nullptr;
        if (!m_ok || !closed) {
            return "cannot write " + m_path + ": " + std::strerror(write_errno) +
                   "; check free disk space";
        }
        if (overwrite) {
            if (std::rename(m_tmp.c_str(), m_path.c_str()) != 0) {
                return "cannot move the new file to " + m_path + ": " + std::strerror(errno);
            }
        } else {
            if (::link(m_tmp.c_str(), m_path.c_str()) != 0) {
                const int err = errno;
                if (err == EEXIST) {
                    return m_path +
                           " already exists; pass --force to replace it, or choose another path";
                }
                return "cannot create " + m_path + ": " + std::strerror(err);
            }
            std::remove(m_tmp.c_str());
        }
        m_committed = true;
        return "";
    }

  private:
    std::string m_path;
    std::string m_tmp;
    std::vector<char> m_buffer;
    std::FILE* m_file = nullptr;
    bool m_ok = true;
    bool m_committed = false;
};

std::string iso_text(in::WallTime t) {
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(t);
    const sys_days day = floor<days>(ms);
    const year_month_day ymd{day};
    const hh_mm_ss<milliseconds> hms{ms - day};
    char buf[40];
    const int n = std::snprintf(
        buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
        static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
        static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
    return std::string(buf, static_cast<std::size_t>(n));
}

Parsed<in::WallTime> parse_timestamp(const std::string& text) {
    if (text == "now") {
        return {std::chrono::time_point_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now()),
                {}};
    }
    in::IsoTime t;
    // Unix nanoseconds in int64 cover 1970..2262; keep well inside.
    if (!in::parse_iso8601(text, t) || t.seconds < 0 || t.seconds > 9'000'000'000LL) {
        return Parsed<in::WallTime>::fail(
            "--timestamp '" + text +
            "' is not `now` or an ISO 8601 date-time with a zone between 1970 and 2255, e.g. "
            "2024-05-01T12:00:00Z");
    }
    return {in::WallTime{std::chrono::seconds{t.seconds} + std::chrono::nanoseconds{t.nanos}}, {}};
}

int run_gen_intents(const GenIntentsOptions& o, bool seed_given) {
    const auto when = parse_timestamp(o.timestamp);
    if (!when) return usage_error(when.error);
    if (o.out == o.registered ||
        (!o.signer_keys.empty() && (o.signer_keys == o.out || o.signer_keys == o.registered))) {
        return usage_error("--out, --registered and --signer-keys must be different files");
    }
    for (const std::string* path : {&o.out, &o.registered, &o.signer_keys}) {
        if (!path->empty() && !o.force && std::filesystem::exists(*path)) {
            return usage_error(
                *path + " already exists; pass --force to replace it, or choose another path");
        }
    }

    in::IntentGenOptions g;
    g.count = o.count;
    g.signers = o.signers;
    g.invalid_share = o.invalid_share;
    g.seed = seed_given ? o.seed : in::random_seed();
    g.timestamp = *when.value;
    in::IntentGenerator gen(g);  // option ranges were checked by CLI11

    StagedFile intents(o.out);
    StagedFile registry(o.registered);
    if (std::string e = intents.open(); !e.empty()) return usage_error(e);
    if (std::string e = registry.open(); !e.empty()) return usage_error(e);
    std::string line;
    while (!gen.done()) {
        gen.next(line);
        line += '\n';
        if (!intents.write(line)) break;
    }
    registry.write(gen.registry_text());
    for (StagedFile* f : {&intents, &registry}) {
        if (std::string e = f->commit(o.force); !e.empty()) {
            return e.find("already exists") != std::string::npos ? usage_error(e)
                                                                 : internal_error(e);
        }
    }
    if (!o.signer_keys.empty()) {
        const Secret keys(gen.signer_keys_text());
        const WriteOutcome written = write_secret_file(o.signer_keys, keys.view(), o.force);
        if (!written.ok()) {
            if (written.exit_code == k_exit_usage) return usage_error(written.error);
            return internal_error(written.error);
        }
    }

    Json j;
    j["out"] = o.out;
    j["registered"] = o.registered;
    if (!o.signer_keys.empty()) j["signer_keys"] = o.signer_keys;
    j["intents"] = gen.emitted();
    j["valid"] = gen.emitted(in::GeneratedKind::valid);
    j["invalid"] = gen.invalid_total();
    Json kinds = Json::object();
    Json reasons = Json::object();
    for (std::size_t k = 1; k < in::k_generated_kinds; ++k) {
        const auto kind = static_cast<in::GeneratedKind>(k);
        kinds[std::string(in::generated_kind_name(kind))] = gen.emitted(kind);
        reasons[std::string(in::reject_reason_name(in::expected_reason(kind)))] = gen.emitted(kind);
    }
    j["invalid_by_kind"] = kinds;
    j["expected_rejects"] = reasons;
    j["signers"] = o.signers;
    j["revoked_signers"] = gen.invalid_total() != 0 ? 1 : 0;
    j["timestamp"] = iso_text(*when.value);
    j["seed"] = g.seed;
    return print_json(j);
}

}  // namespace

void register_gen_intents_command(CLI::App& app) {
    auto o = std::make_shared<GenIntentsOptions>();
    CLI::App* sub = gen_command(app).add_subcommand(
        "intents",
        "Write N signed publish intents (NDJSON, the POST /v1/publish body) from K new signer "
        "keys, and the registration list for those keys.");
    sub->add_option("N", o->count, "How many intents (lines) to write, valid and invalid together.")
        ->required()
        ->check(CLI::Range(std::uint64_t{1}, k_max_intents));
    sub->add_option("--signers", o->signers, "How many signer keys sign the valid intents.")
        ->capture_default_str()
        ->check(CLI::Range(std::uint64_t{1}, k_max_signers))
        ->type_name("K");
    sub->add_option("--out", o->out, "The intents file to write (one JSON intent per line).")
        ->required()
        ->type_name("FILE");
    sub->add_option("--registered", o->registered,
                    "The signer registration list to write (`PUBKEY_HEX active|revoked` per line), "
                    "for the engine's --registered.")
        ->required()
        ->type_name("FILE");
    sub->add_option("--invalid-share", o->invalid_share,
                    "Share of the N lines that are invalid (0..1), spread over bad schema, stale "
                    "timestamp, replayed nonce, bad signature, unknown and revoked signer.")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0))
        ->type_name("X");
    auto* seed = sub->add_option("--seed", o->seed,
                                 "Fixes the records' content and where the invalid lines go (not "
                                 "the keys). Default: random.")
                     ->type_name("S");
    sub->add_option("--timestamp", o->timestamp,
                    "`now` or an ISO 8601 time (e.g. 2024-05-01T12:00:00Z): valid records are "
                    "dated within the minute before it; ingest them within about 9 minutes.")
        ->capture_default_str()
        ->type_name("ISO|now");
    sub->add_option("--signer-keys", o->signer_keys,
                    "Also keep the signers' private keys in this new file, mode 0600 (`PUBKEY_HEX "
                    "WIF STATUS` per line). Without it the keys are discarded after signing.")
        ->type_name("FILE");
    sub->add_flag("--force", o->force, "Replace output files that exist.");
    sub->footer(
        "Output: {out, registered, signer_keys?, intents, valid, invalid, invalid_by_kind, "
        "expected_rejects, signers, revoked_signers, timestamp, seed}.");
    set_action(*sub, [o, seed] { return run_gen_intents(*o, seed->count() > 0); });
}

}  // namespace raregen::cli
