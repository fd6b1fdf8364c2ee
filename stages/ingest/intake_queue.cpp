#include "stages/ingest/intake_queue.h"

#include <stdexcept>

namespace raregen::ingest {

IntakeQueue::IntakeQueue(std::size_t capacity) : m_ring(capacity) {
    if (capacity == 0) throw std::invalid_argument("IntakeQueue: capacity must be > 0");
}

IntakeQueue::Submit IntakeQueue::submit(std::string_view body, IntakeAnswer& answer) {
    answer.done.store(0, std::memory_order_relaxed);
    {
        std::lock_guard lock(m_mu);
        if (m_closed) return Submit::closed;
        if (m_size == m_ring.size()) return Submit::full;
        m_ring[(m_head + m_size) % m_ring.size()] = Request{body, &answer};
        ++m_size;
    }
    if (m_wake) m_wake();
    answer.done.wait(0, std::memory_order_acquire);
    return answer.verdict == IntakeAnswer::Verdict::closed ? Submit::closed : Submit::judged;
}

bool IntakeQueue::pop(Request& out) noexcept {
    std::lock_guard lock(m_mu);
    if (m_size == 0) return false;
    out = m_ring[m_head];
    m_head = (m_head + 1) % m_ring.size();
    --m_size;
    return true;
}

void IntakeQueue::complete(IntakeAnswer& answer, IntakeAnswer::Verdict verdict) noexcept {
    answer.verdict = verdict;
    answer.done.store(1, std::memory_order_release);
    answer.done.notify_all();
}

void IntakeQueue::close() noexcept {
    {
        std::lock_guard lock(m_mu);
        m_closed = true;
    }
    Request r;
    while (pop(r))
        complete(*r.answer, IntakeAnswer::Verdict::closed);
}

std::size_t IntakeQueue::waiting() const noexcept {
    std::lock_guard lock(m_mu);
    return m_size;
}

bool IntakeQueue::closed() const noexcept {
    std::lock_guard lock(m_mu);
    return m_closed;
}

}  // namespace raregen::ingest
