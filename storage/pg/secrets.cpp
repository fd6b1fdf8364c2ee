#include "storage/pg/secrets.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace raregen::pg {
namespace {

constexpr std::string_view k_mask = "***";

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        const char a = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
        if (a != prefix[i]) return false;
    }
    return true;
}

bool is_url(std::string_view conninfo) {
    return starts_with_ci(conninfo, "postgres://") || starts_with_ci(conninfo, "postgresql://");
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// %XX decoded; an invalid escape is kept as written.
std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            const int hi = hex_value(s[i + 1]);
            const int lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(s[i]);
    }
    return out;
}

void add_candidate(std::vector<std::string>& out, std::string_view raw) {
    if (raw.empty()) return;
    out.emplace_back(raw);
    std::string decoded = percent_decode(raw);
    if (decoded != raw && !decoded.empty()) out.push_back(std::move(decoded));
}

// The value of a key=value pair starting at `pos`: '...' with backslash
// escapes, or up to the next whitespace.
std::string read_conninfo_value(std::string_view s, std::size_t pos) {
    std::string value;
    if (pos < s.size() && s[pos] == '\'') {
        for (std::size_t i = pos + 1; i < s.size(); ++i) {
            if (s[i] == '\\' && i + 1 < s.size()) {
                value.push_back(s[++i]);
            } else if (s[i] == '\'') {
                break;
            } else {
                value.push_back(s[i]);
            }
        }
        return value;
    }
    for (std::size_t i = pos; i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\n'; ++i) {
        value.push_back(s[i]);
    }
    return value;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Every string that may be (part of) the password written in `conninfo`,
// found without trusting libpq to parse it: the URL's user-info password (as
// libpq reads it and up to the last '@'), every `password=` value (as a
// key=value pair and as a URL query parameter), raw and percent-decoded.
void raw_password_candidates(std::string_view ci, std::vector<std::string>& out) {
    if (const std::size_t scheme = ci.find("://"); scheme != std::string_view::npos) {
        const std::size_t start = scheme + 3;
        // libpq: the user info ends at the first '@', unless a '/' comes first.
        const std::size_t stop = ci.find_first_of("@/", start);
        if (stop != std::string_view::npos && ci[stop] == '@') {
            const std::string_view userinfo = ci.substr(start, stop - start);
            if (const std::size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
                add_candidate(out, userinfo.substr(colon + 1));
            }
        }
        // A password with an unencoded '/' or '@': up to the last '@'.
        if (const std::size_t last_at = ci.rfind('@');
            last_at != std::string_view::npos && last_at > start) {
            const std::string_view userinfo = ci.substr(start, last_at - start);
            if (const std::size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
                add_candidate(out, userinfo.substr(colon + 1));
            }
        }
    }
    constexpr std::string_view key = "password";
    for (std::size_t at = 0; (at = ci.find(key, at)) != std::string_view::npos; at += key.size()) {
        std::size_t p = at + key.size();
        while (p < ci.size() && is_space(ci[p]))
            ++p;
        if (p >= ci.size() || ci[p] != '=') continue;
        ++p;
        while (p < ci.size() && is_space(ci[p]))
            ++p;
        const std::string value = read_conninfo_value(ci, p);
        add_candidate(out, value);
        // As a URL query parameter the value ends at '&'.
        if (const std::size_t amp = value.find('&'); amp != std::string::npos) {
            add_candidate(out, std::string_view(value).substr(0, amp));
        }
    }
}

// The password libpq itself parses out of `conninfo`, if it can parse it.
void parsed_password(const std::string& ci, std::vector<std::string>& out) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(ci.c_str(), &err);
    if (err != nullptr) PQfreemem(err);
    if (opts == nullptr) return;
    for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
        if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr && *o->val != '\0') {
            out.emplace_back(o->val);
        }
    }
    PQconninfoFree(opts);
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
    if (what.empty()) return;
    for (std::size_t at = 0; (at = s.find(what, at)) != std::string::npos; at += with.size()) {
        s.replace(at, what.size(), with);
    }
}

// `password = value` in the message itself (whatever conninfo it came from).
void mask_password_pairs(std::string& s) {
    constexpr std::string_view key = "password";
    for (std::size_t at = 0; (at = s.find(key, at)) != std::string::npos; at += key.size()) {
        std::size_t p = at + key.size();
        while (p < s.size() && is_space(s[p]))
            ++p;
        if (p >= s.size() || s[p] != '=') continue;
        ++p;
        while (p < s.size() && is_space(s[p]))
            ++p;
        std::size_t end = p;
        if (end < s.size() && s[end] == '\'') {
            for (++end; end < s.size() && s[end] != '\''; ++end) {
                if (s[end] == '\\') ++end;
            }
            end = std::min(end + 1, s.size());
        } else {
            while (end < s.size() && !is_space(s[end]) && s[end] != '&' && s[end] != '"')
                ++end;
        }
        if (end > p) s.replace(p, end - p, k_mask);
    }
}

// `scheme://user:secret@host` in the message: the part between ':' and the
// last '@' of the authority is masked.
void mask_url_userinfo(std::string& s) {
    for (std::size_t at = 0; (at = s.find("://", at)) != std::string::npos; at += 3) {
        const std::size_t start = at + 3;
        std::size_t end = start;
        while (end < s.size() && !is_space(s[end]) && s[end] != '"' && s[end] != '/')
            ++end;
        const std::size_t last_at = s.rfind('@', end - 1);
        if (last_at == std::string::npos || last_at < start) continue;
        const std::size_t colon = s.find(':', start);
        if (colon == std::string::npos || colon >= last_at) continue;
        s.replace(colon + 1, last_at - colon - 1, k_mask);
    }
}

// Masks the content of every "..." fragment (libpq quotes the pieces of a
// connection string it echoes) for which `masked(content)` is true.
template <class Pred>
void mask_quoted(std::string& s, Pred masked) {
    std::size_t at = 0;
    while ((at = s.find('"', at)) != std::string::npos) {
        const std::size_t close = s.find('"', at + 1);
        if (close == std::string::npos) break;
        const std::string_view content(s.data() + at + 1, close - at - 1);
        if (!content.empty() && content != k_mask && masked(content)) {
            s.replace(at + 1, close - at - 1, k_mask);
            at += k_mask.size() + 2;
        } else {
            at = close + 1;
        }
    }
}

std::string scrub_with(std::string_view message, std::vector<std::string> secrets) {
    std::string s(message);
    // Longest first, so a secret is not left half-masked by a shorter one.
    std::sort(secrets.begin(), secrets.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    secrets.erase(std::unique(secrets.begin(), secrets.end()), secrets.end());
    for (const std::string& secret : secrets)
        replace_all(s, secret, k_mask);
    // A quoted fragment that is a piece of a password (libpq misreading a URL
    // can echo one as a host, port or database name).
    mask_quoted(s, [&](std::string_view content) {
        if (content.size() < 2) return false;
        return std::any_of(secrets.begin(), secrets.end(), [&](const std::string& secret) {
            return secret.find(content) != std::string::npos;
        });
    });
    mask_password_pairs(s);
    mask_url_userinfo(s);
    return s;
}

std::vector<std::string> secrets_of(std::string_view conninfo) {
    std::vector<std::string> secrets;
    raw_password_candidates(conninfo, secrets);
    parsed_password(std::string(conninfo), secrets);
    return secrets;
}

}  // namespace

void mask_quoted_fragments(std::string& message) {
    mask_quoted(message, [](std::string_view) { return true; });
}

// True if a URL's user info holds an unencoded '@' or '/': libpq would then
// take part of the password for the host, port or database name.
bool url_userinfo_ambiguous(std::string_view ci) {
    if (!is_url(ci)) return false;
    const std::size_t start = ci.find("://") + 3;
    const std::size_t query = ci.find('?', start);
    const std::string_view rest =
        ci.substr(start, (query == std::string_view::npos ? ci.size() : query) - start);
    const std::size_t first_at = rest.find('@');
    if (first_at == std::string_view::npos) return false;
    if (first_at != rest.rfind('@')) return true;
    const std::size_t slash = rest.find('/');
    return slash != std::string_view::npos && slash < first_at;
}

std::string scrub_secrets(std::string_view message, std::string_view conninfo) {
    return scrub_with(message, secrets_of(conninfo));
}

std::string scrub_secrets(std::string_view message, std::string_view conninfo,
                          std::span<const std::string> extra_secrets) {
    std::vector<std::string> secrets = secrets_of(conninfo);
    for (const std::string& s : extra_secrets)
        add_candidate(secrets, s);
    return scrub_with(message, std::move(secrets));
}

std::string describe_target(std::string_view conninfo) {
    const std::string ci(conninfo);
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(ci.c_str(), &err);
    if (err != nullptr) PQfreemem(err);
    if (opts == nullptr) return "(unparseable connection string)";
    std::string out;
    for (const char* key : {"host", "hostaddr", "port", "dbname", "user"}) {
        for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
            if (std::strcmp(o->keyword, key) == 0 && o->val != nullptr && *o->val != '\0') {
                if (!out.empty()) out += ' ';
                out += key;
                out += '=';
                out += quote_conninfo_value(o->val);
            }
        }
    }
    PQconninfoFree(opts);
    if (out.empty()) out = "libpq defaults";
    return scrub_secrets(out, conninfo);
}

std::string quote_conninfo_value(std::string_view value) {
    const bool needs = value.empty() || value.find_first_of(" \t\n\r'\\") != std::string_view::npos;
    if (!needs) return std::string(value);
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    out += '\'';
    return out;
}

}  // namespace raregen::pg
