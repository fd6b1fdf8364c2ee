#include "storage/utxo/utxo_file.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <tuple>

#include "engine/chain/tx.h"

namespace raregen::utxo {

namespace {

using raregen::chain::k_max_money;
constexpr std::string_view k_format_hint = "expected `TXID:VOUT SATOSHIS`";

bool is_space(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

// A field as shown in an error: quoted, and cut short so a garbage line
// cannot flood the terminal.
std::string quoted(std::string_view field) {
    constexpr std::size_t k_show = 72;
    std::string out = "'";
    out.append(field.substr(0, k_show));
    if (field.size() > k_show) out += "...";
    out += "'";
    return out;
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

class Collector {
  public:
    explicit Collector(const UtxoFileOptions& options) : m_options(options) {}
    void add(std::size_t line, std::string message) {
        ++m_result.error_count;
        m_result.errors.push_back({line, std::move(message)});
    }
    UtxoFileResult& result() { return m_result; }
    // Keeps the first max_reported by line number.
    void finish() {
        std::stable_sort(
            m_result.errors.begin(), m_result.errors.end(),
            [](const UtxoLineError& a, const UtxoLineError& b) { return a.line < b.line; });
        if (m_result.errors.size() > m_options.max_reported)
            m_result.errors.resize(m_options.max_reported);
        if (!m_result.ok()) m_result.utxos.clear();
    }

  private:
    const UtxoFileOptions& m_options;
    UtxoFileResult m_result;
};

// Parses one line (comment and whitespace already stripped, not empty).
// Returns false after reporting the problem.
bool parse_line(std::string_view text, std::size_t line, const UtxoFileOptions& options,
                Collector& errors, chain::Utxo& out) {
    const auto field_end = std::find_if(text.begin(), text.end(), is_space);
    const std::string_view outpoint =
        text.substr(0, static_cast<std::size_t>(field_end - text.begin()));
    const std::string_view rest = trim(text.substr(outpoint.size()));

    const std::size_t colon = outpoint.find(':');
    if (colon == std::string_view::npos) {
        errors.add(line, "missing ':VOUT' after the txid in " + quoted(outpoint) + "; " +
                             std::string(k_format_hint));
        return false;
    }
    const std::string_view txid_text = outpoint.substr(0, colon);
    const std::string_view vout_text = outpoint.substr(colon + 1);
    const auto txid = chain::hash_from_display(txid_text);
    if (!txid) {
        errors.add(line, "bad txid " + quoted(txid_text) + ": a txid is 64 hex characters (got " +
                             std::to_string(txid_text.size()) + " characters" +
                             (txid_text.size() == 64 ? ", not all hex" : "") +
                             "); copy it as an explorer shows it");
        return false;
    }
    std::uint32_t vout = 0;
    if (!all_digits(vout_text) ||
        std::from_chars(vout_text.data(), vout_text.data() + vout_text.size(), vout).ec !=
            std::errc()) {
        errors.add(line,
                   "bad vout " + quoted(vout_text) +
                       ": expected the output index as a decimal number from 0 to 4294967295");
        return false;
    }

    if (rest.empty()) {
        errors.add(line,
                   "missing value after " + quoted(outpoint) + "; " + std::string(k_format_hint));
        return false;
    }
    const auto value_end = std::find_if(rest.begin(), rest.end(), is_space);
    const std::string_view value_text =
        rest.substr(0, static_cast<std::size_t>(value_end - rest.begin()));
    if (value_text.size() != rest.size()) {
        errors.add(line, "unexpected text " + quoted(trim(rest.substr(value_text.size()))) +
                             " after the value; " + std::string(k_format_hint) +
                             " (start comments with #)");
        return false;
    }
    if (value_text.front() == '-') {
        errors.add(line, "negative value " + quoted(value_text) +
                             ": a UTXO's value is a whole number of satoshis, at least " +
                             std::to_string(options.min_value));
        return false;
    }
    std::int64_t value = 0;
    const bool digits = all_digits(value_text);
    const auto parsed =
        digits ? std::from_chars(value_text.data(), value_text.data() + value_text.size(), value)
               : std::from_chars_result{value_text.data(), std::errc::invalid_argument};
    if (!digits || (parsed.ec != std::errc() && parsed.ec != std::errc::result_out_of_range)) {
        errors.add(line, "bad value " + quoted(value_text) +
                             ": expected whole satoshis as a decimal number (e.g. 100)");
        return false;
    }
    if (parsed.ec == std::errc::result_out_of_range || value > k_max_money) {
        errors.add(line, "value " + quoted(value_text) +
                             " is above 21,000,000 BSV; check the value is in satoshis");
        return false;
    }
    if (value < options.min_value) {
        errors.add(line, "value " + std::to_string(value) + " is below the minimum of " +
                             std::to_string(options.min_value) +
                             " satoshi(s): it cannot pay a fee; remove the line");
        return false;
    }
    out.outpoint = chain::OutPoint{*txid, vout};
    out.value = value;
    return true;
}

// Reports every outpoint listed more than once, on each later line.
void find_duplicates(const std::vector<chain::Utxo>& utxos, const std::vector<std::size_t>& lines,
                     Collector& errors) {
    std::vector<std::uint32_t> order(utxos.size());
    std::iota(order.begin(), order.end(), 0u);
    const auto key = [&](std::uint32_t i) {
        return std::tie(utxos[i].outpoint.txid, utxos[i].outpoint.vout);
    };
    // Ties broken by index, so each run of equal outpoints starts with its first line.
    std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
        const auto ka = key(a);
        const auto kb = key(b);
        return ka < kb || (ka == kb && a < b);
    });
    for (std::size_t i = 1; i < order.size(); ++i) {
        std::size_t first = i - 1;
        while (i < order.size() && utxos[order[i]].outpoint == utxos[order[first]].outpoint) {
            errors.add(lines[order[i]],
                       "duplicate outpoint " + chain::format_outpoint(utxos[order[i]].outpoint) +
                           " (first on line " + std::to_string(lines[order[first]]) +
                           "): spending it twice would be a double spend; keep one line");
            ++i;
        }
    }
}

}  // namespace

std::string UtxoFileResult::describe(std::string_view source) const {
    std::string out;
    for (const UtxoLineError& e : errors) {
        // Appended piece by piece: GCC 12 -Wrestrict misfires on `":" + to_string(...)`.
        out.append(source);
        if (e.line != 0) {
            out += ':';
            out += std::to_string(e.line);
        }
        out += ": ";
        out += e.message;
        out += '\n';
    }
    if (error_count > errors.size()) {
        out += "... and ";
        out += std::to_string(error_count - errors.size());
        out += " more error(s) in ";
        out.append(source);
        out += '\n';
    }
    return out;
}

UtxoFileResult parse_utxo_text(std::string_view text, const UtxoFileOptions& options) {
    Collector errors(options);
    std::vector<chain::Utxo>& utxos = errors.result().utxos;
    std::vector<std::size_t> lines;  // line number of each entry of utxos
    std::size_t line = 0;
    while (!text.empty()) {
        ++line;
        const std::size_t nl = text.find('\n');
        std::string_view raw = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        if (const std::size_t hash = raw.find('#'); hash != std::string_view::npos)
            raw = raw.substr(0, hash);
        raw = trim(raw);
        if (raw.empty()) continue;
        chain::Utxo u;
        if (parse_line(raw, line, options, errors, u)) {
            utxos.push_back(u);
            lines.push_back(line);
        }
    }
    find_duplicates(utxos, lines, errors);
    errors.finish();
    return std::move(errors.result());
}

UtxoFileResult load_utxo_file(const std::string& path, const UtxoFileOptions& options) {
    const auto fail = [](std::string message) {
        UtxoFileResult r;
        r.error_count = 1;
        r.errors.push_back({0, std::move(message)});
        return r;
    };
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec) return fail("cannot open the UTXO file: " + ec.message() + "; check the path");
    if (!std::filesystem::is_regular_file(status)) {
        return fail(
            "not a regular file; give the path of a UTXO file (one `TXID:VOUT SATOSHIS` per line)");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail("cannot open the UTXO file: " + std::string(std::strerror(errno)));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return fail("cannot read the UTXO file; check it is readable");
    return parse_utxo_text(text.view(), options);
}

std::string format_utxo_line(const chain::Utxo& utxo) {
    return chain::format_outpoint(utxo.outpoint) + " " + std::to_string(utxo.value);
}

}  // namespace raregen::utxo
