#include "service/replenish/replenisher.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/chain/bytes.h"
#include "service/http/arc_calls.h"
#include "service/split/split.h"
#include "storage/pool/split_store.h"

namespace raregen::service {
namespace {

using Clock = std::chrono::steady_clock;

// What a split of `n` outputs of `each` satoshis costs at `rate` in
// transactions of at most `per_tx` outputs, each with its own P2PKH input
// (148 bytes), change output (34) and framing (19 at most).
std::int64_t split_cost(std::uint64_t n, std::int64_t each, std::uint64_t per_tx,
                        const chain::FeeRate& rate) {
    auto fee = [&](std::uint64_t k) {
        return static_cast<std::int64_t>(rate.fee_for(19 + 148 + 34 * (k + 1)));
    };
    const std::uint64_t full = n / per_tx, rest = n % per_tx;
    return static_cast<std::int64_t>(n) * each + static_cast<std::int64_t>(full) * fee(per_tx) +
           (rest > 0 ? fee(rest) : 0);
}

// The largest count of outputs that `value` pays for (0: not even one).
std::size_t affordable(std::int64_t value, std::int64_t each, std::size_t per_tx,
                       const chain::FeeRate& rate) {
    if (each <= 0 || per_tx == 0 || value < split_cost(1, each, per_tx, rate)) return 0;
    std::uint64_t lo = 1, hi = static_cast<std::uint64_t>(value / each);  // cost(lo) <= value
    while (lo < hi) {
        const std::uint64_t mid = lo + (hi - lo + 1) / 2;
        if (split_cost(mid, each, per_tx, rate) <= value)
            lo = mid;
        else
            hi = mid - 1;
    }
    return static_cast<std::size_t>(lo);
}

pool::SplitRecord to_record(const SignedSplit& s) {
    pool::SplitRecord r;
    r.txid = s.txid_display;
    r.funding = s.funding;
    r.outputs = s.outputs;
    r.each = s.each;
    r.change = s.change;
    r.fee = s.fee;
    r.raw.assign(s.ef->begin(), s.ef->end());
    return r;
}

constexpr const char* k_stopping = "the replenisher is stopping";

PassReport pass(pg::Connection& conn, const ReplenishTarget& t, const ReplenishSettings& s,
                bool allow_split, bool force, const std::atomic<bool>* abort) {
    PassReport rep;
    const std::string script = chain::to_hex(
        chain::ByteSpan(t.key.locking_script().data(), t.key.locking_script().size()));
    const std::int64_t min_value =
        s.publish_value + static_cast<std::int64_t>(t.fee_rate.fee_for(19 + 148 + 68));
    auto read_funding = [&]() -> bool {
        const auto f = pool::funding_state(conn, script, min_value);
        if (!f.ok()) {
            rep.error = f.status.message();
            return false;
        }
        rep.funding_satoshis = f.value.satoshis;
        rep.funding_outputs = f.value.outputs;
        rep.funding_read = true;
        return true;
    };
    auto read_depth = [&]() -> bool {
        const auto d = pool::publish_depth(conn, s.publish_value);
        if (!d.ok()) {
            rep.error = d.status.message();
            return false;
        }
        rep.depth_after = d.value;
        rep.depth_read = true;
        return true;
    };
    const auto locked = pool::try_lock_replenisher(conn);
    if (!locked.ok()) {
        rep.error = locked.status.message();
        return rep;
    }
    if (!locked.value) {
        // Another engine's replenisher runs: what it has to split with.
        if (read_depth()) read_funding();
        rep.depth_before = rep.depth_after;
        return rep;
    }
    rep.ran = true;
    struct Unlock {
        pg::Connection& c;
        ~Unlock() { (void)pool::unlock_replenisher(c); }
    } unlock{conn};
    auto stopping = [&] { return abort != nullptr && abort->load(std::memory_order_acquire); };

    // 2. Splits a previous pass left without a verdict. Their bytes may be
    // on the network already: ARC is asked for the txid before a POST.
    const auto pending = pool::pending_splits(conn);
    if (!pending.ok()) {
        rep.error = pending.status.message();
        return rep;
    }
    for (const pool::SplitRecord& p : pending.value) {
        if (stopping()) {
            rep.error = k_stopping;
            return rep;
        }
        http::BroadcastOptions bo;
        bo.attempts = s.attempts;
        bo.timeout_ms = static_cast<long>(s.request_timeout.count());
        bo.look_first = true;
        bo.abort = abort;
        bo.abort_grace = s.stop_grace;
        const http::Broadcast b = http::broadcast_until_known(
            t.arc_url, t.api_key, p.txid, std::string(p.raw.begin(), p.raw.end()), bo);
        if (b.verdict == http::Broadcast::Verdict::accepted) {
            if (pg::Status st = pool::accept_split(conn, p); !st.ok()) {
                rep.error = st.message();
                return rep;
            }
            ++rep.resumed_accepted;
        } else if (b.verdict == http::Broadcast::Verdict::refused) {
            if (pg::Status st = pool::refuse_split(conn, p, b.detail); !st.ok()) {
                rep.error = st.message();
                return rep;
            }
            ++rep.resumed_refused;
        } else {
            rep.split_pending = true;
            rep.error = "split transaction " + p.txid + " has no verdict from ARC yet (" +
                        b.detail + "): nothing new is split until it has";
            return rep;
        }
    }

    // 3. The depth.
    if (!read_depth()) return rep;
    rep.depth_before = rep.depth_after;
    rep.split_wanted = force || rep.depth_before < s.min_pool;
    if (!rep.split_wanted || !allow_split) {
        read_funding();
        return rep;
    }

    // 4. Split, funding output after funding output.
    std::size_t made = 0;
    while (made < s.split_batch) {
        if (stopping()) break;
        const auto f = pool::funding_state(conn, script, min_value);
        if (!f.ok()) {
            rep.error = f.status.message();
            break;
        }
        if (!f.value.largest) {
            rep.funding_short = true;
            break;
        }
        const chain::Utxo funding = *f.value.largest;
        const std::size_t can = affordable(funding.value, s.publish_value, s.per_tx, t.fee_rate);
        if (can == 0) {
            rep.funding_short = true;
            break;
        }
        SplitPlan plan;
        plan.funding = funding;
        plan.count = std::min(s.split_batch - made, can);
        plan.each = s.publish_value;
        plan.per_tx = s.per_tx;
        plan.rate = t.fee_rate;
        plan.attempts = s.attempts;
        plan.arc_url = t.arc_url;
        plan.api_key = t.api_key;
        plan.timeout_ms = static_cast<long>(s.request_timeout.count());
        plan.abort = abort;
        plan.abort_grace = s.stop_grace;
        std::optional<pool::SplitRecord> current;
        const SplitOutcome out = split_funding(
            t.key, plan,
            [&](const std::string&, std::span<const chain::Utxo>) -> std::string {
                const pg::Status st = pool::accept_split(conn, *current);
                if (!st.ok()) return st.message();
                rep.fees += current->fee;
                return {};
            },
            [&](const SignedSplit& signed_split) -> std::string {
                if (stopping()) return k_stopping;
                current = to_record(signed_split);
                const pg::Status st = pool::record_split(conn, *current, t.instance_id);
                return st.ok() ? std::string() : st.message();
            });
        rep.transactions += out.transactions;
        rep.outputs += out.outputs;
        made += out.outputs;
        using Stop = SplitOutcome::Stop;
        if (out.stop == Stop::done || out.stop == Stop::funding_ran_out) continue;
        if (out.stop == Stop::refused && current) {
            rep.split_refused = true;
            if (pg::Status st = pool::refuse_split(conn, *current, out.error); !st.ok()) {
                rep.error = out.error + "; then " + st.message();
                break;
            }
        }
        if (out.stop == Stop::record_failed && stopping()) break;
        if (out.stop == Stop::unknown) {
            // The split stays 'signed': the next pass asks ARC for it.
            rep.split_pending = true;
        } else if (out.stop == Stop::sink_failed && current) {
            // Accepted, its outputs not written: the split stays 'signed'
            // and the next pass, finding it at ARC, adds them.
            rep.error = "split transaction " + current->txid +
                        " was accepted but its outputs were not written; the next pass adds them";
            break;
        }
        rep.error = out.error;
        break;
    }
    if (made < s.split_batch && rep.error.empty() && !stopping()) rep.funding_short = true;
    const std::string first_error = rep.error;
    read_funding();
    read_depth();
    if (!first_error.empty()) rep.error = first_error;
    return rep;
}

}  // namespace

PassReport replenish_pass(pg::Connection& conn, const ReplenishTarget& target,
                          const ReplenishSettings& settings, bool allow_split, bool force) {
    return pass(conn, target, settings, allow_split, force, nullptr);
}

Replenisher::Replenisher(std::string conninfo, ReplenishTarget target, ReplenishSettings settings,
                         std::function<std::uint64_t()> consumed,
                         std::function<void(std::string_view)> log)
    : m_conninfo(std::move(conninfo)),
      m_target(std::move(target)),
      m_settings(settings),
      m_consumed(std::move(consumed)),
      m_log(std::move(log)) {}

Replenisher::~Replenisher() {
    stop();
}

void Replenisher::start() {
    m_thread = std::thread([this] { loop(); });
}

void Replenisher::stop() {
    {
        std::lock_guard lock(m_mu);
        m_stopping = true;
    }
    m_abort.store(true, std::memory_order_release);
    m_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

void Replenisher::poke() {
    {
        std::lock_guard lock(m_mu);
        m_poked = true;
    }
    m_cv.notify_all();
}

Replenisher::Health Replenisher::health() const {
    std::lock_guard lock(m_mu);
    return m_health;
}

void Replenisher::set_fee_source(std::function<chain::FeeRate()> source) {
    m_fee_source = std::move(source);
}

void Replenisher::after_pass(const PassReport& r, Clock::time_point) {
    std::string line;
    {
        std::lock_guard lock(m_mu);
        Health& h = m_health;
        ++h.passes;
        h.splits += r.transactions;
        h.outputs += r.outputs;
        if (r.error == k_stopping) return;
        const std::string before = h.state;
        if (r.depth_read) h.depth = r.depth_after;
        if (r.funding_read) {
            h.funding_satoshis = r.funding_satoshis;
            h.funding_outputs = r.funding_outputs;
        }
        // Each output costs its value and its 34 bytes' fee.
        const chain::FeeRate& rate = m_target.fee_rate;
        const double per_output =
            static_cast<double>(m_settings.publish_value) +
            34.0 * static_cast<double>(rate.satoshis) / static_cast<double>(rate.bytes);
        const double publishable =
            static_cast<double>(h.depth) + static_cast<double>(h.funding_satoshis) / per_output;
        h.runway_minutes = h.spend_per_second > 0 ? publishable / h.spend_per_second / 60.0 : -1.0;
        const bool low = static_cast<double>(h.funding_satoshis) <
                         per_output * static_cast<double>(m_settings.split_batch);
        if (!r.error.empty()) {
            ++h.failures;
            h.last_error = r.error;
        }
        if (!r.ran && r.error.empty()) {
            h.state = "standby";
        } else if (r.split_pending) {
            h.state = "split_pending";
        } else if (r.split_refused) {
            h.state = "split_refused";
        } else if (!r.error.empty()) {
            h.state = "database";
        } else if (r.funding_short) {
            h.state = "funding_exhausted";
        } else if (low) {
            h.state = "funding_low";
        } else {
            h.state = "ok";
        }
        h.ok = h.state == "ok" || h.state == "standby";
        // Whether more publish UTXOs may come from here: a database failure
        // that read nothing leaves the answer as it was.
        if (r.funding_read || r.split_pending || r.outputs > 0 || r.resumed_accepted > 0)
            m_may_supply.store(r.outputs > 0 || r.resumed_accepted > 0 || r.split_pending ||
                                   (r.funding_read && r.funding_outputs > 0),
                               std::memory_order_release);
        char buf[512];
        if (r.transactions > 0 || r.resumed_accepted > 0 || r.resumed_refused > 0) {
            std::snprintf(buf, sizeof buf,
                          "replenisher: pool %llu -> %llu: %zu split transactions made %zu "
                          "outputs (fees %llu sat); %zu pending splits accepted, %zu refused",
                          static_cast<unsigned long long>(r.depth_before),
                          static_cast<unsigned long long>(r.depth_after), r.transactions, r.outputs,
                          static_cast<unsigned long long>(r.fees), r.resumed_accepted,
                          r.resumed_refused);
            line = buf;
        }
        if (h.state != before || (h.state == "funding_exhausted" && r.split_wanted)) {
            if (!line.empty()) line += "\n";
            if (h.state == "funding_low" || h.state == "funding_exhausted") {
                std::snprintf(
                    buf, sizeof buf,
                    "replenisher: funding %s: %lld sat in %llu outputs left, pool %llu "
                    "(%s); add funding with `raregen utxos import --purpose funding`",
                    h.state == "funding_low" ? "low" : "exhausted",
                    static_cast<long long>(h.funding_satoshis),
                    static_cast<unsigned long long>(h.funding_outputs),
                    static_cast<unsigned long long>(h.depth),
                    h.runway_minutes < 0
                        ? "not spending now"
                        : (std::to_string(static_cast<long long>(h.runway_minutes)) +
                           " minutes of publishing at " +
                           std::to_string(static_cast<long long>(h.spend_per_second)) + " tx/s")
                              .c_str());
                line += buf;
            } else if (h.state == "ok") {
                line += "replenisher: ok (pool " + std::to_string(h.depth) + ", funding " +
                        std::to_string(h.funding_satoshis) + " sat)";
            } else if (h.state == "standby") {
                line += "replenisher: standby: another engine's replenisher holds the lock (pool " +
                        std::to_string(h.depth) + ")";
            } else {
                line += "replenisher: " + h.state + ": " + r.error;
            }
        }
    }
    if (!line.empty() && m_log) {
        std::size_t at = 0;
        while (at <= line.size()) {
            const std::size_t nl = line.find('\n', at);
            m_log(std::string_view(line).substr(at, nl == std::string::npos ? nl : nl - at));
            if (nl == std::string::npos) break;
            at = nl + 1;
        }
    }
}

void Replenisher::loop() {
    const auto tick = std::min<std::chrono::milliseconds>(m_settings.check_interval,
                                                          std::chrono::milliseconds(1000));
    auto next_check = Clock::now();      // the first pass at once
    auto cooldown_until = Clock::now();  // no cooldown before the first split
    std::uint64_t consumed_at_depth = m_consumed ? m_consumed() : 0;
    std::uint64_t last_consumed = consumed_at_depth;
    auto last_sample = Clock::now();
    double rate = 0;  // UTXOs per second, smoothed
    std::uint64_t depth = 0;
    bool have_depth = false;
    auto backoff = std::chrono::milliseconds(100);
    bool failed = false;  // the last pass failed: the next waits for its backoff
    for (;;) {
        bool poked = false;
        {
            std::unique_lock lock(m_mu);
            m_cv.wait_for(lock, tick, [&] { return m_stopping || m_poked; });
            if (m_stopping) return;
            poked = m_poked;
            m_poked = false;
        }
        const auto now = Clock::now();
        const std::uint64_t consumed = m_consumed ? m_consumed() : 0;
        const double dt = std::chrono::duration<double>(now - last_sample).count();
        if (dt > 0) {
            const double sample = static_cast<double>(consumed - last_consumed) / dt;
            rate = rate == 0 ? sample : 0.7 * rate + 0.3 * sample;
            last_consumed = consumed;
            last_sample = now;
        }
        {
            std::lock_guard lock(m_mu);
            m_health.spend_per_second = rate;
        }
        const double used = static_cast<double>(consumed - consumed_at_depth);
        const double estimate = have_depth ? static_cast<double>(depth) - used : 0;
        const double to_next = std::chrono::duration<double>(next_check - now).count();
        const bool exhausted = !m_may_supply.load(std::memory_order_acquire);
        // Early: the pool runs out before the next check, or is out now
        // (jobs waiting for UTXOs spend nothing, so the rate alone misses it).
        const bool early = have_depth && !exhausted && !failed && m_settings.min_pool > 0 &&
                           to_next > 0 &&
                           (estimate <= 0 || (rate > 0 && estimate <= rate * to_next));
        if (!(poked || now >= next_check || early)) continue;
        const double cooldown_left = std::chrono::duration<double>(cooldown_until - now).count();
        // A pool falling faster than it refills overrides the cooldown.
        const bool allow_split =
            now >= cooldown_until || poked || (have_depth && estimate <= rate * cooldown_left);
        if (!m_conn || !m_conn->ok()) {
            pg::Status err;
            m_conn = pg::Connection::try_connect(m_conninfo, err);
            if (!m_conn) {
                PassReport r;
                r.error = "the database is unreachable: " + err.message();
                after_pass(r, now);
                failed = true;
                next_check = now + backoff;
                backoff = std::min(backoff * 2, m_settings.check_interval);
                continue;
            }
            backoff = std::chrono::milliseconds(100);
        }
        ReplenishTarget t = m_target;
        if (m_fee_source) t.fee_rate = m_fee_source();
        const PassReport r = pass(*m_conn, t, m_settings, allow_split, false, &m_abort);
        const auto end = Clock::now();
        if (r.ran && r.depth_read) {
            depth = r.depth_after;
            have_depth = true;
            consumed_at_depth = m_consumed ? m_consumed() : 0;
        }
        // A pass that ran short of funding leaves no cooldown: funding added
        // is split at the next check.
        if (r.transactions > 0 && !r.funding_short) cooldown_until = end + m_settings.cooldown;
        after_pass(r, end);
        failed = !r.error.empty();
        next_check = end + (r.error.empty() ? m_settings.check_interval
                                            : std::min(m_settings.check_interval, backoff));
        if (!r.error.empty()) backoff = std::min(backoff * 2, m_settings.check_interval);
    }
}

}  // namespace raregen::service
