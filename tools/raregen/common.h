#pragma once
// What every `raregen` subcommand shares: exit codes, JSON output, error
// reporting, hex and stdin input, and reading/writing private keys.
//
// Conventions every subcommand follows (see main.cpp for the wiring):
//  - Its result is ONE JSON object on stdout, pretty-printed with 2-space
//    indent (print_json). Nothing else goes to stdout.
//  - Bad input (anything the user can fix) exits k_exit_usage (2) with one
//    line on stderr naming the problem and what to do (usage_error). CLI11's
//    own parse errors exit 2 as well.
//  - Internal failures (I/O errors, a library refusing what it should not)
//    exit k_exit_internal (1) (internal_error).
//  - A private key is never printed, logged or echoed in an error, unless
//    the user asked with an explicit flag (`keys generate --show-wif`).
//
// Command functions return their exit code: expected failures are return
// values, not exceptions. main() turns any escaped exception into exit 1.
// Everything here runs on the main thread of a short-lived process and may
// allocate freely.

#include <CLI/CLI.hpp>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "engine/chain/bytes.h"
#include "engine/chain/keys.h"
#include "engine/chain/publication.h"

namespace raregen::cli {

constexpr int k_exit_ok = 0;
constexpr int k_exit_internal = 1;
constexpr int k_exit_usage = 2;

// Field order in the output follows insertion order (txid first, and so on).
using Json = nlohmann::ordered_json;

// Writes `value` to stdout as the invocation's single JSON object. Returns
// k_exit_ok, or k_exit_internal if stdout could not be written.
int print_json(const Json& value);
// "raregen: error: <message>" on stderr; returns k_exit_usage.
int usage_error(std::string_view message);
// "raregen: internal error: <message>" on stderr; returns k_exit_internal.
int internal_error(std::string_view message);
// "raregen: warning: <message>" on stderr.
void warn(std::string_view message);

// Makes `run` the action of subcommand `sub`: it runs after CLI11 has parsed
// and validated the whole command line, and its return value becomes the
// process exit code (command_exit_code()).
void set_action(CLI::App& sub, std::function<int()> run);
int command_exit_code();

// A value parsed from user input, or why it could not be: `error` says what
// was wrong and what to do (never echoing a secret).
template <class T>
struct Parsed {
    std::optional<T> value;
    std::string error;
    static Parsed fail(std::string message) { return {std::nullopt, std::move(message)}; }
    explicit operator bool() const { return value.has_value(); }
};

// Hex as typed by a user: surrounding whitespace is ignored; the error names
// `what` (e.g. "--script") and the first bad character or an odd length.
Parsed<chain::Bytes> parse_hex(std::string_view text, std::string_view what);
// "TXID:VOUT:SATS" as typed on the command line (an outpoint and its value).
Parsed<chain::Utxo> parse_outpoint_arg(std::string_view text);
// Like parse_hex, but "-" reads the hex from stdin (for large transactions);
// whitespace anywhere in stdin input is dropped, so wrapped hex works.
Parsed<chain::Bytes> read_hex_arg(std::string_view text, std::string_view what);

// ---- secrets ----

// A string holding secret material, wiped when destroyed. Move-only.
class Secret {
  public:
    Secret() = default;
    explicit Secret(std::string text) : m_text(std::move(text)) {}
    Secret(Secret&& other) noexcept;
    Secret& operator=(Secret&& other) noexcept;
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    ~Secret();
    std::string_view view() const { return m_text; }

  private:
    void wipe();
    std::string m_text;
};

// Where a command gets a WIF private key from. add_wif_options() wires the
// flags with the same help text for every command that signs.
struct WifOptions {
    std::string wif;       // --wif (exposes the key in the process list)
    std::string wif_file;  // --wif-file
};
constexpr const char* k_wif_env = "RAREGEN_WIF";
void add_wif_options(CLI::App& sub, WifOptions& options);

// The key from --wif-file, else --wif, else $RAREGEN_WIF (the flags exclude
// each other; an explicit flag wins over the environment). Errors name the
// source and the problem but never the key.
Parsed<chain::WifKey> load_wif(const WifOptions& options);

// Reads a key file: it must be a regular file not accessible by group or
// others (mode 0600 or stricter), else the error says which chmod to run.
// Surrounding whitespace is trimmed.
Parsed<Secret> read_secret_file(const std::string& path);
// The WIF private key in a 0600 file (read_secret_file's checks), decoded;
// the error names `flag` and the path, never the key.
Parsed<chain::WifKey> read_key_file(const std::string& path, std::string_view flag = "--key-file");
// The key from `key_file` (read_key_file) when given, else from RAREGEN_WIF;
// `missing` is the error when neither is.
Parsed<chain::WifKey> key_file_or_env(const std::string& key_file, const std::string& missing);

// ARC's base URL: `flag_value` (--arc-url), else $ARC_URL; trailing slashes
// dropped. The error says how to give one.
Parsed<std::string> arc_url_arg(const std::string& flag_value);

struct WriteOutcome {
    int exit_code = k_exit_ok;  // k_exit_usage: the user's to fix; k_exit_internal: I/O failed
    std::string error;          // what went wrong and what to do
    bool ok() const { return exit_code == k_exit_ok; }
};
// Writes `secret` plus a newline to a new file `path` created with mode
// 0600. Refuses an existing path unless `overwrite`, in which case the file
// is replaced atomically (written beside it with mode 0600, then renamed
// over it), so no reader ever sees a partial or wider-readable key.
WriteOutcome write_secret_file(const std::string& path, std::string_view secret, bool overwrite);

// Writes `port` to `path` (beside it first, then renamed over it, so a
// reader polling for the file never sees it half-written): how a server
// started with port 0 tells a parent process where it listens
// (--port-file). Returns an empty string, or what went wrong.
std::string write_port_file(const std::string& path, int port);

}  // namespace raregen::cli
