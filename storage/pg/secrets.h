#pragma once
// Keeping database secrets out of every message: what a connection string
// holds that must never reach a log or an error text (its password, in any
// of the forms libpq accepts), and the parts of it that are safe to show.

#include <span>
#include <string>
#include <string_view>

namespace raregen::pg {

// Returns `message` with every secret of `conninfo` removed: the password
// value (as written and percent-decoded, wherever it appears), the value of
// any `password=` pair and the password part of any `scheme://user:pass@`
// URL in the message. Safe on malformed connection strings. Use it on any
// text that may echo a connection string. Every occurrence of the password
// is masked, so a one- or two-character password makes messages hard to read
// (never leaky).
std::string scrub_secrets(std::string_view message, std::string_view conninfo);

// Same, also removing each of `extra_secrets` (e.g. a password libpq read
// from a password file or $PGPASSWORD).
std::string scrub_secrets(std::string_view message, std::string_view conninfo,
                          std::span<const std::string> extra_secrets);

// The non-secret parts of a connection string, safe to log and show:
// "host=... port=... dbname=... user=..." (what is set); never the password.
// "(unparseable connection string)" if libpq cannot parse it.
std::string describe_target(std::string_view conninfo);

// Quotes a value for a key=value connection string ('...' with \ and '
// escaped) when it needs quoting (empty, spaces, quotes, backslashes).
std::string quote_conninfo_value(std::string_view value);

// For the connection code: masks the content of every "..." fragment of a
// libpq message (the fragment it quotes may be any part of the string), and
// tells whether a URL's user info holds an unencoded '@' or '/' (libpq would
// take part of the password for the host, port or database name).
void mask_quoted_fragments(std::string& message);
bool url_userinfo_ambiguous(std::string_view conninfo);

}  // namespace raregen::pg
