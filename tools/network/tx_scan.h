#pragma once
// Finding where one transaction ends in a stream of concatenated ones (the
// binary body of ARC's POST /v1/txs), without building it.
//
// chain::parse_transaction refuses trailing bytes, so a caller first asks
// scan_transaction_size for the length of the first transaction and then
// parses exactly that span. The scanner applies the parser's own rules
// (minimal CompactSize, counts and lengths bounded by the remaining bytes)
// and never reads past `data`. Pure function; any thread; no allocation.

#include <cstddef>

#include "engine/chain/bytes.h"
#include "engine/chain/tx.h"

namespace raregen::network {

// Sets `size` to the byte length of the raw or EF transaction at the start
// of `data`. Returns ok, or why the bytes cannot start a transaction
// (trailing_bytes is never returned: what follows is the next transaction).
chain::ParseErrorCode scan_transaction_size(chain::ByteSpan data, std::size_t& size);

}  // namespace raregen::network
