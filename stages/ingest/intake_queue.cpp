#include "stages/ingest/intake_queue.h"

#include <stdexcept>

namespace raregen::ingest {

IntakeQueue::IntakeQueue(std::size_t capacity) : m_ring(capacity) {
    if (capacity == 0) throw std::invalid_argument("IntakeQueue: capacity must be > 0");
}

IntakeQueue::Submit IntakeQueue::submit(std::string_view body, IntakeAnswer& answer,
                                        std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mu);
    answer.done = false;
    if (m_closed) return Submit::closed;
    if (m_size == m_ring.size()) return Submit::full;
    const std::size_t at = (m_head + m_size) % m_ring.size();
    m_ring[at] = Request{body, &answer};
    ++m_size;
    lock.unlock();
    if (m_wake) m_wake();
    lock.lock();
    if (!answer.answered.wait_for(lock, timeout, [&] { return answer.done; })) {
        // Not answered in time: withdraw it if the stage has not taken it.
        for (std::size_t k = 0; k < m_size; ++k) {
            Request& r = m_ring[(m_head + k) % m_ring.size()];
            if (r.answer == &answer) {
                r.answer = nullptr;  // pop() skips it
                return Submit::timed_out;
            }
        }
        // Being judged: its answer comes once its fact is emitted.
        answer.answered.wait(lock, [&] { return answer.done; });
    }
    return answer.verdict == IntakeAnswer::Verdict::closed ? Submit::closed : Submit::judged;
}

bool IntakeQueue::pop(Request& out) noexcept {
    std::lock_guard lock(m_mu);
    while (m_size != 0) {
        out = m_ring[m_head];
        m_head = (m_head + 1) % m_ring.size();
        --m_size;
        if (out.answer != nullptr) return true;  // else withdrawn by its submitter
    }
    return false;
}

void IntakeQueue::complete(IntakeAnswer& answer, IntakeAnswer::Verdict verdict) noexcept {
    // Notified under the lock: the submitter may destroy `answer` (and its
    // condition variable) as soon as it can take the lock and sees done.
    std::lock_guard lock(m_mu);
    answer.verdict = verdict;
    answer.done = true;
    answer.answered.notify_one();
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
