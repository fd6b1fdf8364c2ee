#include "stages/sequence/sequencer.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace raregen::sequence {
namespace {

bool prefix_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

SequencerConfig checked(const SequencerConfig& c) {
    if (c.prefix.empty() || c.prefix.size() > k_max_prefix_size ||
        !std::all_of(c.prefix.begin(), c.prefix.end(), prefix_char)) {
        throw std::invalid_argument(
            "sequence: batch id prefix must be 1 to " + std::to_string(k_max_prefix_size) +
            " characters of A-Z a-z 0-9 . _ -, got \"" + std::string(c.prefix) +
            "\"; give each engine instance or run a short name such as \"node1-20240501\"");
    }
    if (c.window.count() <= 0) {
        throw std::invalid_argument("sequence: batch window must be positive, got " +
                                    std::to_string(c.window.count()) +
                                    " ns; set BATCH_WINDOW_MS to 1 or more (default 5000)");
    }
    if (c.max_batch_size == 0) {
        throw std::invalid_argument(
            "sequence: max batch size must be at least 1, got 0; set MAX_BATCH_SIZE to 1 or "
            "more (default 500)");
    }
    if (c.first_batch == 0) {
        throw std::invalid_argument(
            "sequence: the first batch number must be at least 1, got 0; batch numbers start "
            "at 1");
    }
    return c;
}

}  // namespace

std::string_view close_reason_name(CloseReason reason) {
    switch (reason) {
        case CloseReason::window:
            return "window";
        case CloseReason::size:
            return "size";
        case CloseReason::flush:
            return "flush";
    }
    return "unknown";
}

Sequencer::Sequencer(SequencerConfig config)
    : m_window_ns(checked(config).window.count()),
      m_max_batch_size(config.max_batch_size),
      m_next_batch(config.first_batch),
      m_latest_ns(std::numeric_limits<std::int64_t>::min()) {
    char* out = m_name_head.data();
    *out++ = 'b';
    *out++ = '-';
    std::memcpy(out, config.prefix.data(), config.prefix.size());
    out += config.prefix.size();
    *out++ = '-';
    m_name_head_size = static_cast<std::uint8_t>(out - m_name_head.data());
}

std::int64_t Sequencer::advance(std::chrono::nanoseconds now) {
    m_latest_ns = std::max(m_latest_ns, static_cast<std::int64_t>(now.count()));
    return m_latest_ns;
}

bool Sequencer::window_ran_out(std::int64_t t) const {
    // t >= m_opened_ns always (monotone timeline); the unsigned difference is
    // exact even where the signed one would overflow.
    const std::uint64_t elapsed =
        static_cast<std::uint64_t>(t) - static_cast<std::uint64_t>(m_opened_ns);
    return elapsed >= static_cast<std::uint64_t>(m_window_ns);
}

std::int64_t Sequencer::deadline_ns() const {
    constexpr std::int64_t k_max = std::numeric_limits<std::int64_t>::max();
    return m_opened_ns > k_max - m_window_ns ? k_max : m_opened_ns + m_window_ns;
}

BatchClosed Sequencer::close(CloseReason reason, std::int64_t closed_at_ns) {
    m_open = false;
    ++m_batches_closed;
    return BatchClosed{.batch = m_open_batch,
                       .size = m_open_size,
                       .reason = reason,
                       .opened_at = std::chrono::nanoseconds(m_opened_ns),
                       .closed_at = std::chrono::nanoseconds(closed_at_ns)};
}

Assignment Sequencer::assign(std::chrono::nanoseconds now) {
    const std::int64_t t = advance(now);
    Assignment a;
    if (m_open && window_ran_out(t)) a.expired = close(CloseReason::window, deadline_ns());
    if (!m_open) {
        m_open = true;
        m_open_batch = BatchId{m_next_batch++};
        m_open_size = 0;
        m_opened_ns = t;
    }
    a.batch = m_open_batch;
    a.seq = ++m_open_size;
    ++m_jobs_assigned;
    if (m_open_size == m_max_batch_size) a.filled = close(CloseReason::size, t);
    return a;
}

std::optional<BatchClosed> Sequencer::poll(std::chrono::nanoseconds now) {
    const std::int64_t t = advance(now);
    if (m_open && window_ran_out(t)) return close(CloseReason::window, deadline_ns());
    return std::nullopt;
}

std::optional<std::chrono::nanoseconds> Sequencer::next_deadline() const {
    if (!m_open) return std::nullopt;
    return std::chrono::nanoseconds(deadline_ns());
}

std::optional<BatchClosed> Sequencer::flush(std::chrono::nanoseconds now) {
    const std::int64_t t = advance(now);
    if (!m_open) return std::nullopt;
    if (window_ran_out(t)) return close(CloseReason::window, deadline_ns());
    return close(CloseReason::flush, t);
}

BatchName Sequencer::name_of(BatchId batch) const {
    BatchName name;
    std::memcpy(name.text.data(), m_name_head.data(), m_name_head_size);
    char* begin = name.text.data() + m_name_head_size;
    // Room for 20 digits is reserved by k_max_batch_name_size, so this cannot fail.
    const auto [end, ec] =
        std::to_chars(begin, name.text.data() + k_max_batch_name_size, batch.number);
    (void)ec;
    *end = '\0';
    name.size = static_cast<std::uint8_t>(end - name.text.data());
    return name;
}

std::optional<BatchId> Sequencer::open_batch() const {
    if (!m_open) return std::nullopt;
    return m_open_batch;
}

}  // namespace raregen::sequence
