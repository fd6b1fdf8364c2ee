#include "tools/network/network_detail.h"

#include <simdjson.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "tools/network/tx_scan.h"

namespace raregen::network::detail {

const char* error_title(int status) {
    switch (status) {
        case 400:
            return "Bad request";
        case 401:
            return "Unauthorized";
        case 404:
            return "Not found";
        case 409:
            return "Generic error";
        case 460:
            return "Not extended format";
        case 461:
            return "Malformed transaction";  // ARC's own title for unlocking-script failures
        case 462:
            return "Invalid inputs";
        case 463:
            return "Malformed transaction";
        case 464:
            return "Invalid outputs";
        case 465:
            return "Fee too low";
        case 466:
            return "Conflicting tx found";
        case 474:
            return "Transaction too large";
        case 500:
            return "Internal server error";
        case 502:
            return "Bad gateway";
        case 503:
            return "Service unavailable";
        case 504:
            return "Gateway timeout";
        default:
            return "Error";
    }
}

std::string now_iso() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm g{};
    gmtime_r(&t, &g);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", g.tm_year + 1900,
                  g.tm_mon + 1, g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec, static_cast<int>(ms));
    return buf;
}

Json error_object(int status, const std::string& detail, const std::string& txid) {
    Json j;
    j["type"] = "https://bitcoin-sv.github.io/arc/#/errors?id=_" + std::to_string(status);
    j["title"] = error_title(status);
    j["status"] = status;
    j["detail"] = detail;
    j["instance"] = nullptr;
    j["txid"] = txid.empty() ? Json(nullptr) : Json(txid);
    j["extraInfo"] = "arc error " + std::to_string(status) + ": " + detail;
    return j;
}

std::string dump(const Json& j) {
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void send_json(httplib::Response& res, int status, const Json& body) {
    res.status = status;
    res.set_content(dump(body), "application/json");
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

bool header_true(const httplib::Request& req, const char* name) {
    return lower(trim(req.get_header_value(name))) == "true";
}

Body body_error(int status, std::string detail) {
    Body b;
    b.error = status;
    b.detail = std::move(detail);
    return b;
}

bool add_hex(Body& b, std::string_view hex, std::size_t index) {
    auto bytes = chain::from_hex(trim(hex));
    if (!bytes) {
        b = body_error(400, "transaction " + std::to_string(index) +
                                " is not valid hex (even length, 0-9a-f only)");
        return false;
    }
    b.txs.push_back(std::move(*bytes));
    return true;
}

Body decode_body(const httplib::Request& req, bool many) {
    std::string type = lower(req.get_header_value("Content-Type"));
    if (const auto semi = type.find(';'); semi != std::string::npos) type.resize(semi);
    type = std::string(trim(type));
    Body b;
    if (type == "application/octet-stream") {
        const ByteSpan data(reinterpret_cast<const std::uint8_t*>(req.body.data()),
                            req.body.size());
        if (!many) {
            b.txs.emplace_back(data.begin(), data.end());
        } else {
            std::size_t pos = 0;
            while (pos < data.size()) {
                std::size_t size = 0;
                const chain::ParseErrorCode c = scan_transaction_size(data.subspan(pos), size);
                if (c != chain::ParseErrorCode::ok) {
                    return body_error(400, "transaction " + std::to_string(b.txs.size()) +
                                               " (at byte " + std::to_string(pos) +
                                               " of the body) is malformed: " +
                                               std::string(chain::parse_error_message(c)));
                }
                b.txs.emplace_back(data.begin() + static_cast<std::ptrdiff_t>(pos),
                                   data.begin() + static_cast<std::ptrdiff_t>(pos + size));
                pos += size;
            }
        }
    } else if (type == "application/json") {
        thread_local simdjson::dom::parser parser;
        simdjson::dom::element doc;
        if (parser.parse(req.body).get(doc) != simdjson::SUCCESS) {
            return body_error(400, "the body is not valid JSON");
        }
        const auto raw_tx = [](simdjson::dom::element e, std::string_view& hex) {
            simdjson::dom::object obj;
            return e.get_object().get(obj) == simdjson::SUCCESS &&
                   obj["rawTx"].get_string().get(hex) == simdjson::SUCCESS;
        };
        std::string_view hex;
        if (!many) {
            if (!raw_tx(doc, hex))
                return body_error(400, "the body must be {\"rawTx\": \"<hex>\"}");
            if (!add_hex(b, hex, 0)) return b;
        } else {
            simdjson::dom::array arr;
            if (doc.get_array().get(arr) != simdjson::SUCCESS)
                return body_error(400, "the body must be an array of {\"rawTx\": \"<hex>\"}");
            for (simdjson::dom::element e : arr) {
                if (!raw_tx(e, hex))
                    return body_error(400, "entry " + std::to_string(b.txs.size()) +
                                               " is not {\"rawTx\": \"<hex>\"}");
                if (!add_hex(b, hex, b.txs.size())) return b;
            }
        }
    } else if (type == "text/plain") {
        if (!many) {
            if (!add_hex(b, req.body, 0)) return b;
        } else {
            std::string_view rest = req.body;
            while (!rest.empty()) {
                const std::size_t nl = rest.find('\n');
                const std::string_view line = trim(rest.substr(0, nl));
                rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
                if (!line.empty() && !add_hex(b, line, b.txs.size())) return b;
            }
        }
    } else {
        return body_error(400, "unsupported Content-Type '" + type +
                                   "': send application/octet-stream, application/json or "
                                   "text/plain");
    }
    if (b.txs.empty()) return body_error(400, "the body holds no transaction");
    return b;
}

}  // namespace raregen::network::detail
