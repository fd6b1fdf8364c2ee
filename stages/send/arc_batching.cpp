#include "stages/send/arc_client_impl.h"

namespace raregen::send {

bool ArcClient::Impl::try_submit(const model::Job& job) noexcept {
    if (stopping.load(std::memory_order_acquire) || free_slots.empty()) return false;
    const std::uint32_t i = free_slots.back();
    free_slots.pop_back();
    ArcOutcome& o = slots[i].out;
    o.job = job;
    o.verdict = ArcVerdict::unresolved;
    o.arc_status = 0;
    o.tx_status = {};
    o.detail = {};
    o.attempts = 0;
    submitted.try_push(i);  // cannot fail: at most `capacity` slots exist
    outstanding.fetch_add(1, std::memory_order_relaxed);
    // One wake-up per I/O loop turn at most: the I/O thread clears the
    // flag before it drains, so a push it may miss always finds the flag
    // clear and wakes it.
    if (!wake_pending.exchange(true, std::memory_order_acq_rel)) curl_multi_wakeup(multi);
    return true;
}

bool ArcClient::Impl::try_take(ArcOutcome& out) noexcept {
    std::uint32_t i = 0;
    if (!done.try_pop(i)) return false;
    out = slots[i].out;
    free_slots.push_back(i);
    outstanding.fetch_sub(1, std::memory_order_relaxed);
    return true;
}

void ArcClient::Impl::set_reason(Slot& sl, std::string_view why) noexcept {
    const std::size_t n = std::min(why.size(), sl.reason.size());
    if (n > 0) std::memcpy(sl.reason.data(), why.data(), n);
    sl.reason_size = static_cast<std::uint8_t>(n);
}

void ArcClient::Impl::emit(std::uint32_t i, ArcVerdict v) noexcept {
    ArcOutcome& o = slots[i].out;
    o.verdict = v;
    switch (v) {
        case ArcVerdict::sent:
            add(c.sent);
            break;
        case ArcVerdict::failed:
            add(c.failed);
            break;
        case ArcVerdict::fee_too_low:
            add(c.fee_too_low);
            break;
        case ArcVerdict::unresolved:
            add(c.unresolved);
            break;
    }
    done.try_push(i);  // cannot fail: at most `capacity` slots exist
    pushed = true;
}

void ArcClient::Impl::emit_unresolved(std::uint32_t i) noexcept {
    Slot& sl = slots[i];
    Line l;
    l << "no definite answer after " << std::uint64_t{sl.out.attempts} << " attempts ("
      << std::string_view(sl.reason.data(), sl.reason_size)
      << "); the tx may be on the network: look it up by txid before re-signing";
    assign_cut(sl.out.detail, l.view());
    emit(i, ArcVerdict::unresolved);
}

std::uint32_t ArcClient::Impl::new_batch(Kind kind) noexcept {
    const std::uint32_t b = free_batches.back();
    free_batches.pop_back();
    batches[b] = Batch{};
    batches[b].kind = kind;
    return b;
}

void ArcClient::Impl::batch_append(std::uint32_t b, std::uint32_t i) noexcept {
    Batch& bt = batches[b];
    slots[i].next = k_none;
    if (bt.tail == k_none)
        bt.head = i;
    else
        slots[bt.tail].next = i;
    bt.tail = i;
    ++bt.count;
}

void ArcClient::Impl::drain_submissions(TimePoint now) noexcept {
    std::uint32_t i = 0;
    while (submitted.try_pop(i)) {
        Slot& sl = slots[i];
        sl.failures = 0;
        sl.reason_size = 0;
        sl.next = k_none;
        if (fatal.load(std::memory_order_acquire)) {
            // ARC refuses every request: nothing more is posted. The job
            // stays `sending`, for the next run to look up by txid.
            set_reason(sl, "not sent: ARC refuses every request (see the run's error)");
            emit_unresolved(i);
            continue;
        }
        if (sl.out.job.signed_ticket == 0) {
            // Recovered from storage: it may already be out there.
            const std::uint32_t b = new_batch(Kind::status);
            batch_append(b, i);
            ready.push(b);
        } else {
            sl.queued_at = now;
            fresh.push(i);
        }
    }
}

void ArcClient::Impl::promote_due(TimePoint now) noexcept {
    for (std::size_t k = 0; k < delayed.size();) {
        if (batches[delayed[k]].not_before <= now) {
            ready.push(delayed[k]);
            delayed[k] = delayed.back();
            delayed.pop_back();
        } else {
            ++k;
        }
    }
}

void ArcClient::Impl::dispatch(TimePoint now) noexcept {
    if (!policy_busy && (!fee_wait.empty() || now >= policy_due)) launch_policy(now);
    for (Conn* cn = free_conn(); cn != nullptr; cn = free_conn()) {
        if (!ready.empty()) {
            launch(*cn, ready.pop(), now);
            continue;
        }
        if (fresh.empty()) break;
        const bool full = fresh.size() >= s.batch_max;
        if (!full && now < slots[fresh.front()].queued_at + s.linger) break;
        const std::uint32_t b = new_batch(Kind::post);
        while (!fresh.empty() && batches[b].count < s.batch_max)
            batch_append(b, fresh.pop());
        launch(*cn, b, now);
    }
}

TimePoint ArcClient::Impl::next_deadline(TimePoint now) const noexcept {
    TimePoint t = now + std::chrono::milliseconds{1000};
    if (!policy_busy) t = std::min(t, policy_due);
    for (std::uint32_t b : delayed)
        t = std::min(t, batches[b].not_before);
    if (!fresh.empty()) {
        bool any_free = false;
        for (const Conn& cn : conns)
            any_free = any_free || !cn.busy;
        if (any_free) t = std::min(t, slots[fresh.front()].queued_at + s.linger);
    }
    return t;
}

}  // namespace raregen::send
