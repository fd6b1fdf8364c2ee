#include "stages/ingest/ingest_stage.h"

#include <openssl/rand.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace raregen::ingest {

// ---- JsonLinesRejectWriter ------------------------------------------------

JsonLinesRejectWriter::JsonLinesRejectWriter(std::FILE* out) : m_out(out) {
    if (m_out == nullptr) throw std::invalid_argument("reject log: no output file");
    m_line.reserve(1024);
}

void JsonLinesRejectWriter::on_reject(const RejectEvent& e) noexcept {
    if (!m_ok) return;
    m_line.clear();
    m_line.append("{\"line\":");
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, e.line);
    m_line.append(digits, r.ptr);
    m_line.append(",\"reason\":\"").append(reject_reason_name(e.reason)).append("\",\"field\":");
    // The texts are ASCII built here or UTF-8 validated by the parser; if one
    // were not, it is written as null rather than as broken JSON.
    const auto string_or_null = [this](std::string_view s) {
        const std::size_t mark = m_line.size();
        if (!append_json_string(s, m_line)) {
            m_line.resize(mark);
            m_line.append("null");
        }
    };
    string_or_null(e.field);
    m_line.append(",\"message\":");
    string_or_null(e.message);
    m_line.append(",\"recordId\":");
    if (e.record_id_known) {
        string_or_null(e.record_id);
    } else {
        m_line.append("null");
    }
    m_line.append("}\n");
    if (std::fwrite(m_line.data(), 1, m_line.size(), m_out) != m_line.size()) m_ok = false;
}

// ---- JobIdGenerator ---------------------------------------------------------

namespace {

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
}

}  // namespace

JobIdGenerator::JobIdGenerator(std::uint64_t seed) noexcept {
    for (auto& s : m_s)
        s = splitmix64(seed);
}

std::uint64_t JobIdGenerator::next_u64() noexcept {
    const std::uint64_t result = rotl(m_s[1] * 5, 7) * 9;
    const std::uint64_t t = m_s[1] << 17;
    m_s[2] ^= m_s[0];
    m_s[3] ^= m_s[1];
    m_s[1] ^= m_s[2];
    m_s[0] ^= m_s[3];
    m_s[2] ^= t;
    m_s[3] = rotl(m_s[3], 45);
    return result;
}

model::JobId JobIdGenerator::next() noexcept {
    model::JobId id;
    const std::uint64_t a = next_u64();
    const std::uint64_t b = next_u64();
    std::memcpy(id.bytes.data(), &a, 8);
    std::memcpy(id.bytes.data() + 8, &b, 8);
    id.bytes[6] = static_cast<std::uint8_t>((id.bytes[6] & 0x0f) | 0x40);  // version 4
    id.bytes[8] = static_cast<std::uint8_t>((id.bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
    return id;
}

std::uint64_t random_seed() {
    std::uint64_t seed = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1) {
        throw std::runtime_error("cannot seed job ids: the OS random generator failed");
    }
    return seed;
}

// ---- IngestStage ------------------------------------------------------------

namespace {

ValidatorOptions validator_options(const IngestOptions& o) {
    if (o.max_line == 0 || o.max_line > (std::size_t{1} << 30)) {
        throw std::invalid_argument("ingest: max_line must be between 1 byte and 1 GiB");
    }
    ValidatorOptions v = o.validator;
    v.max_intent_bytes = std::max<std::size_t>(o.max_line, 64);
    return v;
}

bool is_pollable(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        throw std::invalid_argument(std::string("ingest: input is not an open file descriptor: ") +
                                    std::strerror(errno));
    }
    return !S_ISREG(st.st_mode);
}

bool is_blank(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r';
}

}  // namespace

IngestStage::IngestStage(int input_fd, flow::Channel<model::Job>& output, model::FactSink& facts,
                         flow::RunContext& context, NonceStore& nonces,
                         const SignerRegistry& signers, IngestOptions options)
    : m_fd(input_fd),
      m_pollable(options.queue == nullptr && is_pollable(input_fd)),
      m_out(output.make_producer()),
      m_facts(facts),
      m_context(context),
      m_options(options),
      m_validator(nonces, signers, validator_options(options)),
      m_ids(options.seed),
      m_buf_size(std::max<std::size_t>(2 * (options.max_line + 1), 4096)) {
    m_buf = std::make_unique<char[]>(m_buf_size);
}

bool IngestStage::refill() noexcept {
    if (m_eof) return false;
    if (m_pollable) {
        pollfd p{m_fd, POLLIN, 0};
        const int r = ::poll(&p, 1, 0);
        if (r == 0) return false;
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) return false;
            m_input_error = errno;
            m_eof = true;
            return false;
        }
    }
    const ssize_t n = ::read(m_fd, m_buf.get() + m_end, m_buf_size - m_end);
    if (n > 0) {
        m_end += static_cast<std::size_t>(n);
        return true;
    }
    if (n == 0) {
        m_eof = true;
        return false;
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return false;
    m_input_error = errno;
    m_eof = true;
    return false;
}

IngestStage::Next IngestStage::next_line(std::string_view& line) noexcept {
    char* const buf = m_buf.get();
    for (;;) {
        if (m_skipping) {
            const void* nl = std::memchr(buf + m_begin, '\n', m_end - m_begin);
            if (nl != nullptr) {
                const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(nl) - buf);
                m_skip_bytes += at - m_begin;
                m_begin = m_scan = at + 1;
                m_skipping = false;
                reject_too_large();
                return Next::line_done;
            }
            m_skip_bytes += m_end - m_begin;
            m_begin = m_end = m_scan = 0;
            if (!refill()) {
                if (!m_eof) return Next::wait;
                m_skipping = false;
                reject_too_large();
                return Next::line_done;
            }
            continue;
        }
        const void* nl = std::memchr(buf + m_scan, '\n', m_end - m_scan);
        if (nl != nullptr) {
            const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(nl) - buf);
            line = std::string_view(buf + m_begin, at - m_begin);
            m_begin = m_scan = at + 1;
            ++m_line_no;
            return Next::line;
        }
        m_scan = m_end;
        if (m_end - m_begin > m_options.max_line) {
            // Already over the limit with no end in sight: drop what is
            // buffered and skip to the next newline.
            ++m_line_no;
            m_skip_line = m_line_no;
            m_skipping = true;
            m_skip_bytes = m_end - m_begin;
            m_begin = m_end = m_scan = 0;
            continue;
        }
        if (m_eof) {
            if (m_begin == m_end) return Next::end;
            line = std::string_view(buf + m_begin, m_end - m_begin);  // last line, no newline
            m_begin = m_scan = m_end;
            ++m_line_no;
            return Next::line;
        }
        if (m_begin != 0) {
            std::memmove(buf, buf + m_begin, m_end - m_begin);
            m_end -= m_begin;
            m_scan -= m_begin;
            m_begin = 0;
        }
        if (!refill() && !m_eof) return Next::wait;
    }
}

void IngestStage::reject_line(RejectReason reason, std::string_view field, std::string_view message,
                              const IntentVerdict* verdict) noexcept {
    counters().add_rejected();
    auto& c = m_rejects[static_cast<std::size_t>(reason)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (m_answer != nullptr) {
        IntakeAnswer& a = *m_answer;
        m_answer = nullptr;
        a.reason = reason;
        a.field.clear();
        a.field.append(field);
        a.message.clear();
        a.message.append(message);
        a.record_id_known = verdict != nullptr && verdict->record_id_known;
        if (a.record_id_known) a.record_id = verdict->record_id;
        a.record_hash_known = verdict != nullptr && verdict->record_hash_known;
        if (a.record_hash_known) a.record_hash = verdict->record_hash;
        m_options.queue->complete(a, IntakeAnswer::Verdict::rejected);
    }
    if (m_options.reject_sink == nullptr) return;
    RejectEvent e;
    e.line = m_line_no;
    e.reason = reason;
    e.field = field;
    e.message = message;
    if (verdict != nullptr && verdict->record_id_known) {
        e.record_id = verdict->record_id.view();
        e.record_id_known = true;
    }
    m_options.reject_sink->on_reject(e);
}

void IngestStage::reject_too_large() noexcept {
    counters().add_in();
    m_lines.store(m_lines.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    FixedText<160> message;
    message.append("the line is ")
        .append_uint(m_skip_bytes)
        .append(" bytes; the limit is ")
        .append_uint(m_options.max_line)
        .append(" bytes (max line): shrink the intent");
    const std::uint64_t current = m_line_no;
    m_line_no = m_skip_line;
    reject_line(RejectReason::too_large, {}, message.view(), nullptr);
    m_line_no = current;
}

void IngestStage::handle_line(std::string_view line, flow::Nanos now) noexcept {
    while (!line.empty() && is_blank(line.back()))
        line.remove_suffix(1);
    std::size_t lead = 0;
    while (lead < line.size() && is_blank(line[lead]))
        ++lead;
    if (lead == line.size()) return;  // blank: not an item

    if (line.size() > m_options.max_line) {
        // A long line that arrived whole in one read.
        m_skip_bytes = line.size();
        m_skip_line = m_line_no;
        reject_too_large();
        return;
    }
    counters().add_in();
    m_lines.store(m_lines.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    const IntentVerdict& v = m_validator.validate(line, to_wall(now, m_options.wall_offset));
    if (!v.accepted) {
        reject_line(v.reason, v.field.view(), v.message.view(), &v);
        return;
    }
    const std::uint64_t seq = m_accepted.load(std::memory_order_relaxed) + 1;
    m_accepted.store(seq, std::memory_order_relaxed);
    m_job = model::Job{};
    m_job.intake_seq = seq;
    m_job.job_id = m_ids.next();
    v.fill_job(m_job);
    m_job.signer = v.pubkey;
    m_job.accepted_at = now;
    m_canonical = v.canonical_record;  // valid until the next validate(): deliver() comes first
    m_pending = Pending::fact;
}

bool IngestStage::deliver(flow::Nanos now) noexcept {
    if (m_pending == Pending::fact) {
        const model::FactTicket ticket =
            m_facts.try_emit(model::FactKind::job_accepted, m_job, now, m_canonical);
        if (ticket == 0) return false;
        m_pending = Pending::enqueue;
        if (m_answer != nullptr) {
            IntakeAnswer& a = *m_answer;
            m_answer = nullptr;
            a.job_id = m_job.job_id;
            a.record_id_known = true;
            a.record_id = m_job.record_id;
            a.record_hash = m_job.record_hash;
            a.ticket = ticket;
            m_options.queue->complete(a, IntakeAnswer::Verdict::accepted);
        }
    }
    if (!m_out.try_enqueue(m_job)) return false;
    counters().add_out();
    m_pending = Pending::none;
    return true;
}

flow::Step IngestStage::finish() noexcept {
    if (m_options.queue != nullptr) m_options.queue->close();
    m_out.close();
    m_finished = true;
    m_done.store(true, std::memory_order_release);
    return flow::Step::finished;
}

flow::Step IngestStage::step(flow::Nanos now, std::size_t budget) noexcept {
    if (m_finished) return flow::Step::finished;
    bool progressed = false;
    if (m_pending != Pending::none) {
        if (!deliver(now)) return flow::Step::blocked;
        progressed = true;
    }
    if (m_options.queue != nullptr) return step_queue(now, budget, progressed);
    for (std::size_t n = 0; n < budget; ++n) {
        if (m_context.stop_requested()) return finish();
        std::string_view line;
        switch (next_line(line)) {
            case Next::wait:
                m_context.wake_by(now + m_options.poll_interval);
                return progressed ? flow::Step::progressed : flow::Step::idle;
            case Next::end:
                return finish();
            case Next::line_done:
                progressed = true;
                continue;
            case Next::line:
                break;
        }
        handle_line(line, now);
        progressed = true;
        // Took a line but the job cannot leave yet: report the progress now
        // (upstream state changed); the next call reports blocked.
        if (m_pending != Pending::none && !deliver(now)) return flow::Step::progressed;
    }
    return progressed ? flow::Step::progressed : flow::Step::idle;
}

flow::Step IngestStage::step_queue(flow::Nanos now, std::size_t budget, bool progressed) noexcept {
    for (std::size_t n = 0; n < budget; ++n) {
        if (m_context.stop_requested()) return finish();
        IntakeQueue::Request r;
        // Nothing waiting: submit() wakes the runner.
        if (!m_options.queue->pop(r)) return progressed ? flow::Step::progressed : flow::Step::idle;
        ++m_line_no;
        m_answer = r.answer;
        handle_line(r.body, now);
        if (m_answer != nullptr && m_pending == Pending::none) {
            // A blank body: not an item in a file, but a request to answer.
            counters().add_in();
            m_lines.store(m_lines.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            reject_line(RejectReason::bad_json, {},
                        "the body is empty: send one JSON intent (a POST /v1/publish body)",
                        nullptr);
        }
        progressed = true;
        if (m_pending != Pending::none && !deliver(now)) return flow::Step::progressed;
    }
    return progressed ? flow::Step::progressed : flow::Step::idle;
}

}  // namespace raregen::ingest
