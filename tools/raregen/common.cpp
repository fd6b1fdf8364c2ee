#include "tools/raregen/common.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "engine/chain/tx.h"

namespace raregen::cli {

namespace {

// Set by the action of the subcommand that ran; stays k_exit_ok when only
// --help ran.
int g_exit_code = k_exit_ok;

// Larger than any WIF with surrounding whitespace; a bigger "key file" is a
// wrong path, and reading it whole would be pointless.
constexpr std::size_t k_max_key_file_size = 4096;

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

bool is_hex_digit(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A character for an error message: printable as itself, otherwise \xNN.
std::string describe_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", u);
    return buf;
}

std::string errno_text(int err) {
    return std::strerror(err);
}

std::string mode_text(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

// Writes all of `data` to `fd`; false (errno set) on failure.
bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::string parent_dir(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// Makes a rename in `dir` durable; best effort (some filesystems refuse).
void sync_dir(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

// Writes key + "\n" to an open fd and makes it durable; errno set on failure.
bool write_key_to_fd(int fd, std::string_view secret) {
    if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0) return false;
    return write_all(fd, secret) && write_all(fd, "\n") && ::fsync(fd) == 0;
}

}  // namespace

int print_json(const Json& value) {
    // replace: a stray invalid UTF-8 byte must not abort the output (the
    // commands only put validated UTF-8 in strings, so this is a backstop).
    std::cout << value.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
    std::cout.flush();
    if (!std::cout) return internal_error("cannot write to stdout");
    return k_exit_ok;
}

int usage_error(std::string_view message) {
    std::cerr << "raregen: error: " << message << '\n';
    return k_exit_usage;
}

int internal_error(std::string_view message) {
    std::cerr << "raregen: internal error: " << message << '\n';
    return k_exit_internal;
}

void warn(std::string_view message) {
    std::cerr << "raregen: warning: " << message << '\n';
}

void set_action(CLI::App& sub, std::function<int()> run) {
    sub.callback([run = std::move(run)] { g_exit_code = run(); });
}

int command_exit_code() {
    return g_exit_code;
}

// "TXID:VOUT:SATS" as typed on the command line.
Parsed<chain::Utxo> parse_outpoint_arg(std::string_view text) {
    using R = Parsed<chain::Utxo>;
    const std::string shown(text);
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') == colon) {
        return R::fail("'" + shown + "' is not TXID:VOUT:SATS (e.g. <64 hex>:0:100)");
    }
    const auto outpoint = chain::parse_outpoint(text.substr(0, colon));
    if (!outpoint) {
        return R::fail("'" + shown +
                       "': TXID must be 64 hex characters (display order) and VOUT a whole "
                       "number below 2^32");
    }
    const std::string_view sats = text.substr(colon + 1);
    std::int64_t value = 0;
    bool digits = !sats.empty() && sats.size() <= 16;
    for (const char c : sats) {
        if (c < '0' || c > '9') digits = false;
    }
    if (digits) {
        for (const char c : sats)
            value = value * 10 + (c - '0');
    }
    if (!digits || value < 1 || value > chain::k_max_money) {
        return R::fail("'" + shown + "': SATS must be a whole number of satoshis, at least 1");
    }
    chain::Utxo u;
    u.outpoint = *outpoint;
    u.value = value;
    return {u, {}};
}

Parsed<chain::WifKey> key_file_or_env(const std::string& key_file, const std::string& missing) {
    if (!key_file.empty()) return read_key_file(key_file);
    if (const char* env = std::getenv(k_wif_env); env != nullptr && *env != '\0')
        return load_wif(WifOptions{});
    return Parsed<chain::WifKey>::fail(missing);
}

Parsed<std::string> arc_url_arg(const std::string& flag_value) {
    std::string url = flag_value;
    if (url.empty())
        if (const char* e = std::getenv("ARC_URL"); e != nullptr) url = e;
    if (url.empty())
        return Parsed<std::string>::fail(
            "no ARC to broadcast to: give --arc-url URL or set ARC_URL (e.g. the URL `raregen "
            "network serve` prints)");
    while (!url.empty() && url.back() == '/')
        url.pop_back();
    return {url, {}};
}

Parsed<chain::Bytes> parse_hex(std::string_view text, std::string_view what) {
    using R = Parsed<chain::Bytes>;
    const std::string_view hex = trim(text);
    const std::string name(what);
    if (hex.size() >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
        return R::fail(name + " must be plain hex without a 0x prefix; drop the prefix");
    for (std::size_t i = 0; i < hex.size(); ++i) {
        if (!is_hex_digit(hex[i]))
            return R::fail(name + " is not hex: " + describe_char(hex[i]) + " at position " +
                           std::to_string(i) + "; use only the digits 0-9 and a-f");
    }
    if (hex.size() % 2 != 0)
        return R::fail(name + " has an odd number of hex digits (" + std::to_string(hex.size()) +
                       "); every byte takes two, so a digit is missing or extra");
    auto bytes = chain::from_hex(hex);
    if (!bytes) return R::fail(name + " is not valid hex");
    return {std::move(bytes), {}};
}

Parsed<chain::Bytes> read_hex_arg(std::string_view text, std::string_view what) {
    if (trim(text) != "-") return parse_hex(text, what);
    std::string all{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    if (std::cin.bad())
        return Parsed<chain::Bytes>::fail("cannot read " + std::string(what) + " from stdin");
    std::string hex;
    hex.reserve(all.size());
    for (char c : all)
        if (!is_space(c)) hex.push_back(c);
    if (hex.empty())
        return Parsed<chain::Bytes>::fail(std::string(what) +
                                          " is '-' but stdin is empty; pipe the hex in, or pass "
                                          "it as an argument");
    return parse_hex(hex, std::string(what) + " (from stdin)");
}

// ---- secrets ----

Secret::Secret(Secret&& other) noexcept : m_text(std::move(other.m_text)) {
    other.wipe();
}

Secret& Secret::operator=(Secret&& other) noexcept {
    if (this != &other) {
        wipe();
        m_text = std::move(other.m_text);
        other.wipe();
    }
    return *this;
}

Secret::~Secret() {
    wipe();
}

void Secret::wipe() {
    // Growing to the capacity first makes the whole buffer (including bytes
    // a short-string move left behind) part of the string, so it may be
    // overwritten.
    m_text.resize(m_text.capacity());
    OPENSSL_cleanse(m_text.data(), m_text.size());
    m_text.clear();
}

void add_wif_options(CLI::App& sub, WifOptions& options) {
    auto* file =
        sub.add_option("--wif-file", options.wif_file,
                       "File holding the WIF private key (recommended). It must be mode 0600 or "
                       "stricter; `raregen keys generate --out FILE` creates one.")
            ->type_name("PATH");
    auto* inline_wif =
        sub.add_option("--wif", options.wif,
                       "WIF private key given inline. AVOID: the key is visible to every user in "
                       "the process list and lands in shell history. Prefer --wif-file or the "
                       "RAREGEN_WIF environment variable.")
            ->type_name("WIF");
    file->excludes(inline_wif);
    sub.footer(sub.get_footer() + (sub.get_footer().empty() ? "" : "\n") +
               "Key source: --wif-file, else --wif, else the environment variable RAREGEN_WIF.");
}

Parsed<chain::WifKey> load_wif(const WifOptions& options) {
    using R = Parsed<chain::WifKey>;
    Secret text;
    std::string source;
    if (!options.wif_file.empty()) {
        auto file = read_secret_file(options.wif_file);
        if (!file) return R::fail(file.error);
        text = std::move(*file.value);
        source = "the key file " + options.wif_file;
    } else if (!options.wif.empty()) {
        text = Secret(std::string(trim(options.wif)));
        source = "--wif";
        warn(
            "--wif puts the private key in the process list and shell history; prefer "
            "--wif-file PATH (mode 0600) or the RAREGEN_WIF environment variable");
    } else if (const char* env = std::getenv(k_wif_env); env != nullptr && *env != '\0') {
        text = Secret(std::string(trim(env)));
        source = std::string("$") + k_wif_env;
    } else {
        return R::fail(
            "no private key given: pass --wif-file PATH (a mode 0600 file holding the WIF; "
            "`raregen keys generate --out PATH` makes one) or set RAREGEN_WIF");
    }
    if (text.view().empty()) return R::fail(source + " is empty; it must hold one WIF private key");
    chain::WifResult decoded = chain::decode_wif(text.view());
    if (!decoded.key)
        return R::fail("the private key from " + source +
                       " was refused: " + std::string(chain::wif_error_message(decoded.error)) +
                       "; check it holds one WIF key (51 or 52 base58 characters)");
    return {std::move(decoded.key), {}};
}

Parsed<chain::WifKey> read_key_file(const std::string& path, std::string_view flag) {
    using R = Parsed<chain::WifKey>;
    auto secret = read_secret_file(path);
    if (!secret) return R::fail(secret.error);
    chain::WifResult wif = chain::decode_wif(secret.value->view());
    if (!wif.key)
        return R::fail(std::string(flag) + " " + path + ": " +
                       std::string(chain::wif_error_message(wif.error)));
    return {std::move(wif.key), {}};
}

Parsed<Secret> read_secret_file(const std::string& path) {
    using R = Parsed<Secret>;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        const int err = errno;
        return R::fail("cannot open key file " + path + ": " + errno_text(err) +
                       "; check the path");
    }
    struct stat st {};
    // fstat on the opened descriptor: the mode checked is that of the file read.
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        return R::fail("cannot inspect key file " + path + ": " + errno_text(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return R::fail("key file " + path +
                       " is not a regular file; give the path of the file "
                       "holding the WIF");
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        ::close(fd);
        return R::fail("refusing key file " + path + ": its mode " + mode_text(st.st_mode) +
                       " lets group or others access it; run: chmod 600 " + path);
    }
    if (static_cast<std::uint64_t>(st.st_size) > k_max_key_file_size) {
        ::close(fd);
        return R::fail("key file " + path + " is " + std::to_string(st.st_size) +
                       " bytes, too large to hold one WIF key; check the path");
    }
    std::string buf(k_max_key_file_size + 1, '\0');
    std::size_t used = 0;
    while (used < buf.size()) {
        const ssize_t n = ::read(fd, buf.data() + used, buf.size() - used);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            Secret wipe_on_return(std::move(buf));
            return R::fail("cannot read key file " + path + ": " + errno_text(err));
        }
        if (n == 0) break;
        used += static_cast<std::size_t>(n);
    }
    ::close(fd);
    // Moving the (heap-allocated) buffer into a Secret wipes it on return.
    const Secret raw(std::move(buf));
    const std::string_view content = trim(raw.view().substr(0, used));
    if (content.empty())
        return R::fail("key file " + path + " is empty; it must hold one WIF private key");
    return {Secret(std::string(content)), {}};
}

WriteOutcome write_secret_file(const std::string& path, std::string_view secret, bool overwrite) {
    const auto usage = [](std::string m) { return WriteOutcome{k_exit_usage, std::move(m)}; };
    const auto io = [](std::string m) { return WriteOutcome{k_exit_internal, std::move(m)}; };
    if (path.empty()) return usage("the key file path is empty; give a path for the new file");

    if (!overwrite) {
        // O_EXCL: never truncate or follow into an existing file (or symlink).
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
                              S_IRUSR | S_IWUSR);
        if (fd < 0) {
            const int err = errno;
            if (err == EEXIST)
                return usage(path +
                             " already exists; choose a new path, or pass --force to "
                             "replace it (the old key is lost)");
            return usage("cannot create key file " + path + ": " + errno_text(err) +
                         "; check the directory exists and is writable");
        }
        if (!write_key_to_fd(fd, secret)) {
            const int err = errno;
            ::close(fd);
            ::unlink(path.c_str());
            return io("cannot write key file " + path + ": " + errno_text(err));
        }
        if (::close(fd) != 0) {
            const int err = errno;
            ::unlink(path.c_str());
            return io("cannot write key file " + path + ": " + errno_text(err));
        }
        sync_dir(parent_dir(path));
        return {};
    }

    // Replace atomically: a reader sees the old file or the complete new one,
    // never a truncated or wider-readable key. mkstemp creates mode 0600.
    std::string tmp = path + ".tmp-XXXXXX";
    const int fd = ::mkstemp(tmp.data());
    if (fd < 0) {
        const int err = errno;
        return usage("cannot create a file beside " + path + ": " + errno_text(err) +
                     "; check the directory exists and is writable");
    }
    const bool written = write_key_to_fd(fd, secret);
    const int write_err = errno;
    if (::close(fd) != 0 || !written) {
        const int err = written ? errno : write_err;
        ::unlink(tmp.c_str());
        return io("cannot write key file " + tmp + ": " + errno_text(err));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return usage("cannot replace " + path + ": " + errno_text(err) +
                     "; check it is a file in a writable directory");
    }
    sync_dir(parent_dir(path));
    return {};
}

std::string write_port_file(const std::string& path, int port) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << port << "\n";
        if (!out.flush()) return "cannot write --port-file " + tmp + ": check the directory";
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        return "cannot rename " + tmp + " to --port-file " + path;
    return {};
}

}  // namespace raregen::cli
