#include "storage/pool/pool_feeder.h"

#include <algorithm>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

namespace raregen::pool {
namespace {

using Clock = std::chrono::steady_clock;

std::size_t effective_chunk(std::size_t requested, std::size_t capacity) {
    if (requested == 0)
        requested = std::min<std::size_t>(1000, std::max<std::size_t>(1, capacity / 4));
    return std::min(requested, capacity);
}

}  // namespace

PoolFeeder::PoolFeeder(std::string conninfo, utxo::UtxoRing& ring, PoolFeederOptions options)
    : m_conninfo(std::move(conninfo)),
      m_ring(ring),
      m_options(std::move(options)),
      m_chunk(effective_chunk(m_options.chunk, ring.capacity())) {
    if (m_options.instance_id.empty()) {
        throw std::invalid_argument(
            "the UTXO pool feeder needs an engine instance id (it names the leases)");
    }
    if (m_options.lease_duration < std::chrono::milliseconds(3)) {
        throw std::invalid_argument(
            "the UTXO lease duration must be at least 3 ms (it is renewed "
            "every third of it); raise it");
    }
}

PoolFeeder::~PoolFeeder() {
    if (m_started) stop();
}

void PoolFeeder::start() {
    if (m_started) return;
    m_started = true;
    m_thread = std::thread([this] { run(); });
}

std::string PoolFeeder::last_error() const {
    std::lock_guard lock(m_mutex);
    return m_last_error;
}

void PoolFeeder::poke() {
    {
        std::lock_guard lock(m_mutex);
        m_poked = true;
    }
    m_cv.notify_all();
}

void PoolFeeder::set_error(const pg::Status& st) {
    {
        // The reason first, then the flag: whoever sees healthy() == false
        // also finds last_error() set.
        std::lock_guard lock(m_mutex);
        m_last_error = pg::scrub_secrets(st.message(), m_conninfo);
    }
    m_healthy.store(false, std::memory_order_release);
}

bool PoolFeeder::sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(m_mutex);
    m_cv.wait_for(lock, d, [this] { return m_stop_requested || m_poked; });
    m_poked = false;
    return !m_stop_requested;
}

void PoolFeeder::run() {
    const auto renew_period = m_options.lease_duration / 3;
    const auto backoff_max =
        std::max(m_options.reconnect_min,
                 std::min(m_options.reconnect_max,
                          std::chrono::duration_cast<std::chrono::milliseconds>(renew_period)));
    auto backoff = m_options.reconnect_min;
    bool connected_before = false;
    auto next_renew = Clock::now();
    for (;;) {
        {
            std::lock_guard lock(m_mutex);
            if (m_stop_requested) break;
        }
        if (!m_conn) {
            pg::Status error;
            auto conn = pg::Connection::try_connect(m_conninfo, error, m_options.connect);
            if (!conn) {
                set_error(error);
                if (!sleep_for(backoff)) break;
                backoff = std::min(backoff * 2, backoff_max);
                continue;
            }
            m_conn.emplace(std::move(*conn));
            if (connected_before) m_reconnects.fetch_add(1, std::memory_order_acq_rel);
            connected_before = true;
            // Time may have passed while disconnected: renew first.
            next_renew = Clock::now();
        }
        if (!fill_and_renew(next_renew)) {
            m_conn.reset();
            if (!sleep_for(backoff)) break;
            backoff = std::min(backoff * 2, backoff_max);
            continue;
        }
        backoff = m_options.reconnect_min;
        m_healthy.store(true, std::memory_order_release);
        m_cycles.fetch_add(1, std::memory_order_acq_rel);
        if (!sleep_for(m_options.poll_interval)) break;
    }
}

bool PoolFeeder::fill_and_renew(Clock::time_point& next_renew) {
    pg::Connection& conn = *m_conn;
    const auto now = Clock::now();
    if (now >= next_renew) {
        const auto renewed = renew_leases(conn, m_options.instance_id, m_options.lease_duration);
        if (!renewed.ok()) {
            set_error(renewed.status);
            return false;
        }
        m_renewals.fetch_add(1, std::memory_order_acq_rel);
        next_renew = now + m_options.lease_duration / 3;
    }
    if (m_ring.closed()) return true;  // no more pushes; keep renewing what is out
    for (;;) {
        // Only grows until this thread pushes, so all of a lease this size fits.
        const std::size_t free = m_ring.free_slots();
        if (free < m_chunk) return true;
        const std::size_t want = std::min(free, m_chunk);
        auto leased = lease_utxos(conn, m_options.instance_id, want, m_options.lease_duration,
                                  m_options.publish_value);
        if (!leased.ok()) {
            set_error(leased.status);
            return false;
        }
        const std::vector<chain::Utxo>& got = leased.value;
        if (!got.empty()) {
            const std::size_t pushed = m_ring.try_push_bulk(got);
            if (pushed < got.size()) {
                // Cannot happen (free_slots() only grows); give the rest back
                // rather than hold leases nobody will use.
                const auto rest = std::span<const chain::Utxo>(got).subspan(pushed);
                (void)release_utxos(conn, m_options.instance_id, rest);
                set_error(pg::Status::failure(
                    "the UTXO ring refused outpoints it had room for (a bug in raregen)"));
            }
            m_leased.fetch_add(pushed, std::memory_order_acq_rel);
            if (m_options.on_refill) m_options.on_refill();
        }
        if (got.size() < want) {
            if (m_options.close_when_empty && got.empty()) {
                // Empty for now. Close only if nothing can come: no row is
                // leasable and no other engine holds unspent UTXOs (which
                // come back when it stops or dies). One statement, one
                // snapshot: an engine releasing its leftovers between two
                // separate checks would otherwise look like neither.
                const auto more =
                    pool_may_supply(conn, m_options.instance_id, m_options.publish_value);
                if (!more.ok()) {
                    set_error(more.status);
                    return false;
                }
                // A replenisher that can still split keeps the ring open.
                if (!more.value && !(m_options.may_refill && m_options.may_refill())) {
                    m_ring.close();
                    if (m_options.on_refill) m_options.on_refill();
                }
            }
            return true;
        }
        std::lock_guard lock(m_mutex);
        if (m_stop_requested) return true;
    }
}

FeederStopReport PoolFeeder::stop() {
    if (m_stopped || !m_started) {
        m_stopped = m_stopped || !m_started;
        return m_stop_report;
    }
    m_stopped = true;
    {
        std::lock_guard lock(m_mutex);
        m_stop_requested = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();

    // The consumer has stopped (precondition): the leftovers are ours to pop.
    std::vector<chain::Utxo> left;
    for (;;) {
        const std::size_t ready = m_ring.available();
        if (ready == 0) break;
        const std::size_t old = left.size();
        left.resize(old + ready);
        left.resize(old + m_ring.try_pop_bulk(std::span<chain::Utxo>(left).subspan(old)));
    }
    m_ring.close();
    m_stop_report.left_in_ring = left.size();
    if (!left.empty()) {
        // The feeder's connection may be gone; one fresh attempt, then give up
        // (the rows stay reserved under this instance until it is reclaimed).
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (!m_conn || !m_conn->ok()) {
                m_conn.reset();
                pg::Status error;
                auto conn = pg::Connection::try_connect(m_conninfo, error, m_options.connect);
                if (!conn) {
                    m_stop_report.status = pg::Status::failure(
                        "releasing " + std::to_string(left.size()) +
                        " unused UTXOs failed: " + pg::scrub_secrets(error.message(), m_conninfo) +
                        "; they stay reserved under instance " + m_options.instance_id +
                        " until it is reclaimed");
                    continue;
                }
                m_conn.emplace(std::move(*conn));
            }
            const auto released = release_utxos(*m_conn, m_options.instance_id, left);
            if (released.ok()) {
                m_stop_report.released = released.value;
                m_stop_report.status = pg::Status::success();
                break;
            }
            m_stop_report.status = pg::Status::failure(
                "releasing " + std::to_string(left.size()) + " unused UTXOs failed: " +
                    pg::scrub_secrets(released.status.message(), m_conninfo) +
                    "; they stay reserved under instance " + m_options.instance_id +
                    " until it is reclaimed",
                released.status.sqlstate());
            m_conn.reset();
        }
    }
    m_conn.reset();
    m_healthy.store(false, std::memory_order_release);
    return m_stop_report;
}

}  // namespace raregen::pool
