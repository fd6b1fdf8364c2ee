#pragma once
// UTXO files: the plain-text list of spendable outputs an engine without a
// database signs from (and what `raregen gen utxos` writes).
//
// Format, one UTXO per line:
//     TXID:VOUT SATOSHIS
// TXID is 64 hex characters in display order (as explorers and ARC show
// it), VOUT a decimal output index, SATOSHIS the output's value in whole
// satoshis. Fields are separated by spaces or tabs. `#` starts a comment that
// runs to the end of the line; blank lines are ignored; CRLF line ends work.
// Every output is assumed to pay the signing key's P2PKH script: the file
// does not say which key, so a file made for another key yields transactions
// the network refuses.
//
// The loader is strict because a bad line costs money or a job: a file with
// any bad line is refused as a whole. It refuses a duplicate outpoint (both
// copies would be handed out, so two transactions would spend one output),
// and a value below options.min_value (by default 1 satoshi: an output
// worth nothing cannot pay a fee).
//
// Start-up code: everything here allocates and may be slow on huge files
// (sorting for duplicates is O(n log n)).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chain/publication.h"

namespace raregen::utxo {

struct UtxoFileOptions {
    std::int64_t min_value = 1;     // smallest value accepted, in satoshis
    std::size_t max_reported = 20;  // errors kept in detail (all are counted)
};

struct UtxoLineError {
    std::size_t line = 0;  // 1-based; 0 for a problem with the file itself
    std::string message;   // what was wrong with the line and what to do
};

struct UtxoFileResult {
    // The UTXOs in file order; empty unless ok().
    std::vector<chain::Utxo> utxos;
    // The first options.max_reported errors, by line number.
    std::vector<UtxoLineError> errors;
    // Every error found (errors.size() may be smaller).
    std::size_t error_count = 0;

    bool ok() const { return error_count == 0; }
    // One "SOURCE:LINE: message" line per kept error, then "... and N more"
    // if some were not kept. SOURCE is usually the path.
    std::string describe(std::string_view source) const;
};

// Parses the text of a UTXO file.
UtxoFileResult parse_utxo_text(std::string_view text, const UtxoFileOptions& options = {});

// Reads and parses `path`; a file that cannot be read gives one error on
// line 0 saying why.
UtxoFileResult load_utxo_file(const std::string& path, const UtxoFileOptions& options = {});

// "TXID:VOUT SATOSHIS" (no newline): a line parse_utxo_text accepts.
std::string format_utxo_line(const chain::Utxo& utxo);

}  // namespace raregen::utxo
