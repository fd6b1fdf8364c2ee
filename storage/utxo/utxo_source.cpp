#include "storage/utxo/utxo_source.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace raregen::utxo {

std::size_t VectorUtxoSource::take(std::span<chain::Utxo> out) {
    const std::size_t n = std::min(out.size(), remaining());
    std::copy_n(m_utxos.begin() + static_cast<std::ptrdiff_t>(m_next), n, out.begin());
    m_next += n;
    return n;
}

std::size_t refill(UtxoSource& source, UtxoRing& ring, std::span<chain::Utxo> scratch) {
    std::size_t moved = 0;
    for (;;) {
        // Room only grows while this thread is the one producer, so whatever
        // the source gives (at most `room`) fits.
        const std::size_t room = std::min(ring.free_slots(), scratch.size());
        if (room == 0) break;
        const std::size_t got = source.take(scratch.first(room));
        if (got == 0) break;
        if (ring.try_push_bulk(scratch.first(got)) != got) {
            // Only a second producer could have taken the room: UTXOs taken
            // from the source would be lost, so stop here rather than go on.
            std::fputs(
                "raregen: utxo refill found its ring room taken by another producer; "
                "a UtxoRing takes one producer thread (see utxo_ring.h)\n",
                stderr);
            std::abort();
        }
        moved += got;
    }
    return moved;
}

}  // namespace raregen::utxo
