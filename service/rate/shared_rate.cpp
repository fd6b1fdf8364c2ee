#include "service/rate/shared_rate.h"

#include <algorithm>
#include <vector>

#include "storage/rate/rate_leases.h"

namespace raregen::service {

using Clock = std::chrono::steady_clock;

SharedRate::SharedRate(std::string conninfo, std::string instance_id, SharedRateSettings settings,
                       gate::SharedAllowance& allowance, const std::atomic<std::uint64_t>& answered,
                       std::function<void()> wake, std::function<void(std::string_view)> log)
    : m_conninfo(std::move(conninfo)),
      m_instance(std::move(instance_id)),
      m_settings(settings),
      m_allowance(allowance),
      m_answered(answered),
      m_wake(std::move(wake)),
      m_log(std::move(log)) {
    if (m_settings.max_slice == 0) m_settings.max_slice = std::max(1u, m_settings.capacity / 10);
}

SharedRate::~SharedRate() {
    stop();
}

bool SharedRate::connect(bool again) {
    pg::Status err;
    m_conn = pg::Connection::try_connect(m_conninfo, err);
    if (!m_conn) {
        failed("the database is unreachable: " + err.message());
        return false;
    }
    bool held = false;
    pg::Status st = rate::hold_rate_lock(*m_conn, m_instance, held);
    if (st.ok() && !held)
        st = pg::Status::failure("another session holds this engine's rate lock (" + m_instance +
                                 ")");
    if (st.ok() && again) {
        std::vector<std::int64_t> known;
        for (const Slice& s : m_slices)
            known.push_back(s.id);
        st = rate::drop_unknown_slices(*m_conn, m_instance, known);
    }
    if (!st.ok()) {
        m_conn.reset();
        failed(st.message());
        return false;
    }
    return true;
}

std::string SharedRate::start() {
    if (!connect(false)) {
        std::lock_guard lock(m_mu);
        return "the shared rate limit cannot start: " + m_stats.last_error;
    }
    std::uint32_t previous = 0;
    const pg::Status st = rate::configure_gate(*m_conn, rate::k_publish_gate, m_settings.capacity,
                                               m_settings.period, previous);
    if (!st.ok()) return "setting the shared rate limit failed: " + st.message();
    if (previous != 0 && m_log)
        m_log("shared rate limit: " + std::to_string(previous) + " -> " +
              std::to_string(m_settings.capacity) + " per " +
              std::to_string(m_settings.period.count()) +
              " ms for every engine on this database (this engine's MAX_TX_PER_3S)");
    m_thread = std::thread([this] { loop(); });
    return {};
}

void SharedRate::stop() {
    {
        std::lock_guard lock(m_mu);
        m_stopping = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

SharedRate::Stats SharedRate::stats() const {
    std::lock_guard lock(m_mu);
    return m_stats;
}

void SharedRate::failed(const std::string& what) {
    // Tokens this engine may not be able to settle are not spent.
    const std::uint64_t r = m_allowance.revoke();
    m_granted -= r;
    if (r > 0) m_trim = true;
    bool first = false;
    {
        std::lock_guard lock(m_mu);
        ++m_stats.failures;
        m_stats.given_back += r;
        first = m_stats.last_error.empty();
        m_stats.last_error = what;
    }
    if (first && m_log)
        m_log("shared rate limit: " + what + " (no shared tokens until it is back)");
}

void SharedRate::lost_slice(std::int64_t id) {
    // Another engine took this one for dead and settled the slice: what is
    // held unspent goes back too, the gate waits for new slices.
    const std::uint64_t r = m_allowance.revoke();
    m_granted -= r;
    if (r > 0) m_trim = true;
    {
        std::lock_guard lock(m_mu);
        m_stats.given_back += r;
        ++m_stats.lost;
    }
    if (!m_told_lost && m_log) {
        m_told_lost = true;
        m_log("shared rate limit: slice " + std::to_string(id) +
              " was settled by another engine (this one's heartbeat looked stale); its tokens "
              "were given back");
    }
}

bool SharedRate::settle_answered() {
    const std::uint64_t answered = m_answered.load(std::memory_order_acquire);
    const std::uint64_t taken = m_granted - m_allowance.available();
    while (!m_slices.empty()) {
        const Slice& f = m_slices.front();
        if (taken < f.end || answered < f.end) break;
        bool found = false;
        const pg::Status st = rate::settle_slice(*m_conn, f.id, f.tokens, found);
        if (!st.ok()) {
            failed(st.message());
            return false;
        }
        if (!found) lost_slice(f.id);
        m_slices.pop_front();
        std::lock_guard lock(m_mu);
        ++m_stats.settled;
    }
    return true;
}

bool SharedRate::give_back() {
    const std::uint64_t r = m_allowance.revoke();
    if (r > 0) {
        m_granted -= r;
        m_trim = true;
        std::lock_guard lock(m_mu);
        m_stats.given_back += r;
    }
    // The newest slices hold the unspent tokens (spent oldest first).
    while (m_trim && !m_slices.empty() && m_slices.back().end > m_granted) {
        Slice& b = m_slices.back();
        const std::uint64_t start = b.end - b.tokens;
        auto keep = static_cast<std::uint32_t>(m_granted > start ? m_granted - start : 0);
        bool found = false;
        const pg::Status st = rate::shrink_slice(*m_conn, b.id, keep, found);
        if (!st.ok()) {
            failed(st.message());
            return false;
        }
        if (!found && keep > 0) {
            lost_slice(b.id);
            keep = 0;  // settled elsewhere: forget it
        }
        if (keep == 0) {
            m_slices.pop_back();
        } else {
            b.tokens = keep;
            b.end = m_granted;
        }
    }
    m_trim = false;
    return true;
}

bool SharedRate::tick(Clock::time_point now) {
    if (!settle_answered()) return false;
    std::uint64_t demand = m_allowance.demand();
    std::uint64_t avail = m_allowance.available();
    if (demand == 0 && avail > 0) {
        if (!m_idle) {
            m_idle = true;
            m_idle_since = now;
        } else if (now - m_idle_since >= m_settings.idle_return) {
            m_idle = false;
            if (!give_back()) return false;
            avail = m_allowance.available();
        }
    } else {
        m_idle = false;
    }
    if (m_trim && !give_back()) return false;
    while (demand > avail && now >= m_retry_at) {
        const auto want = static_cast<std::uint32_t>(
            std::min<std::uint64_t>(demand - avail, m_settings.max_slice));
        rate::Slice s;
        const pg::Status st =
            rate::acquire_slice(*m_conn, rate::k_publish_gate, m_instance, want, s,
                                {m_settings.reap_stale, m_settings.reap_grace});
        if (!st.ok()) {
            failed(st.message());
            return false;
        }
        {
            std::lock_guard lock(m_mu);
            m_stats.reaped += s.reaped;
            if (s.tokens > 0) {
                ++m_stats.slices;
                m_stats.tokens += s.tokens;
            }
            if (s.tokens < want) ++m_stats.short_acquires;
            if (!m_stats.last_error.empty()) {
                m_stats.last_error.clear();
                if (m_log) m_log("shared rate limit: the database answers again");
            }
        }
        if (s.tokens > 0) {
            m_granted += s.tokens;
            m_slices.push_back(Slice{s.lease_id, m_granted, s.tokens});
            m_allowance.grant(s.tokens);
            avail += s.tokens;
            if (m_wake) m_wake();
        }
        if (s.tokens < want) {
            // Tokens come back when the earliest settled slice's period ends
            // (asked again at least every 50 ms: slices given back free some
            // sooner), or as other engines' slices settle.
            const auto wait = s.next_return.count() >= 0
                                  ? std::min(s.next_return, std::chrono::milliseconds(50))
                                  : m_settings.poll_short;
            m_retry_at = now + wait;
            break;
        }
        demand = m_allowance.demand();
    }
    return true;
}

void SharedRate::loop() {
    auto backoff = std::chrono::milliseconds(100);
    auto wait = std::chrono::milliseconds(0);
    for (;;) {
        {
            std::unique_lock lock(m_mu);
            m_cv.wait_for(lock, wait, [&] { return m_stopping; });
            if (m_stopping) break;
        }
        if (!m_conn || !m_conn->ok()) {
            if (m_conn) failed("the connection to the database broke");
            if (!connect(true)) {
                wait = backoff;
                backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
                continue;
            }
            backoff = std::chrono::milliseconds(100);
        }
        const auto now = Clock::now();
        if (!tick(now)) {
            wait = std::chrono::milliseconds(100);
            continue;
        }
        const bool busy = !m_slices.empty() || m_allowance.demand() > 0;
        wait = busy ? m_settings.poll : std::chrono::milliseconds(20);
        {
            std::lock_guard lock(m_mu);
            std::uint64_t held = 0;
            for (const Slice& s : m_slices)
                held += s.tokens;
            m_stats.held = static_cast<std::uint32_t>(held);
        }
    }
    // Stopping (the pipeline has drained): unspent tokens go back and every
    // answered slice is settled. A slice with tokens still unanswered stays
    // open: once this engine's liveness lock is gone, the next engine to
    // acquire settles it.
    if (m_conn && m_conn->ok()) {
        m_trim = true;
        if (give_back()) (void)settle_answered();
    }
}

}  // namespace raregen::service
