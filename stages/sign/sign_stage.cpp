#include "stages/sign/sign_stage.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <string>

#include "stages/sign/helper_pool.h"

namespace raregen::sign {

namespace {

// Room for the largest transaction the stage builds (raw or EF), reserved
// up front so the first builds do not grow the buffers.
constexpr std::size_t k_scratch_bytes = 2 * model::k_max_tx_bytes;

const SignStageOptions& checked(const SignStageOptions& options) {
    if (options.max_chunk == 0)
        throw std::invalid_argument("sign stage: max_chunk must be at least 1");
    if (options.threads == 0) throw std::invalid_argument("sign stage: threads must be at least 1");
    return options;
}

// Precondition failures that would lose or duplicate work: stop loudly.
[[noreturn]] void broken_invariant(const char* what) noexcept {
    std::fprintf(stderr, "raregen: sign stage: %s\n", what);
    std::abort();
}

// Per pool slot: what one signing thread writes while it builds. Cache-line
// aligned so two threads never write to one line.
struct alignas(64) SlotScratch {
    chain::PublicationBuilder builder;
    chain::Bytes raw;
    chain::Bytes ef;
};

}  // namespace

struct SignStage::Parallel {
    explicit Parallel(std::size_t threads)
        // Each helper creates its secp256k1 context now, not on its first signature.
        : pool(threads, [] { (void)chain::Secp256k1::for_this_thread(); }),
          scratch(pool.threads()) {}

    HelperPool pool;
    std::vector<SlotScratch> scratch;  // indexed by the pool's slot
};

SignStage::SignStage(flow::Channel<model::Job>& input, flow::Channel<model::Job>& output,
                     utxo::UtxoRing& ring, const chain::PublicationKey& key, model::FactSink& facts,
                     SignStageOptions options)
    : m_options(checked(options)),
      m_in(input.make_consumer()),
      m_out(output.make_producer()),
      m_input(input),
      m_ring(ring),
      m_key(key),
      m_facts(facts) {
    m_parallel = std::make_unique<Parallel>(m_options.threads);
    m_jobs.resize(m_options.max_chunk);
    m_utxos.resize(m_options.max_chunk);
    m_ok.resize(m_options.max_chunk);

    // Warm every slot's builder: one build with a change output (the larger
    // shape) grows its internal buffers to their steady-state size.
    chain::Utxo warm;
    warm.value = 100'000'000;
    chain::PublicationOptions warm_options = m_options.publication;
    warm_options.change = true;
    const chain::RaregenPayload payload = chain::raregen_payload(chain::Hash256{});
    const chain::ByteSpan pushes[1] = {payload.span()};
    for (SlotScratch& s : m_parallel->scratch) {
        s.raw.reserve(k_scratch_bytes);
        s.ef.reserve(k_scratch_bytes);
        const chain::BuildResult r =
            s.builder.build(m_key, warm, pushes, warm_options, s.raw, &s.ef);
        if (!r.ok()) {
            throw std::runtime_error(
                "sign stage: cannot build a test transaction with the signing key: " +
                chain::build_error_message(r));
        }
    }
    counters().set_depth_gauge(flow::depth_gauge_of(input));
}

SignStage::~SignStage() = default;

flow::Step SignStage::step(flow::Nanos now, std::size_t budget) noexcept {
    if (m_finished) return flow::Step::finished;
    bool moved = false;
    if (!emit(now, moved)) return moved ? flow::Step::progressed : flow::Step::blocked;

    // The chunk is all out: take the next one, no bigger than the UTXOs ready.
    // A closed, empty ring will never fund another job: those jobs fail
    // (job_failed, no UTXO spent) rather than wait forever.
    const bool unfundable = m_ring.closed() && m_ring.available() == 0;
    if (unfundable) return fail_unfunded(now, budget, moved);
    const std::size_t want = std::min({budget, m_options.max_chunk, m_ring.available()});
    if (want == 0) {
        // budget and max_chunk are at least 1, so the ring is empty.
        if (m_input.closed_and_empty()) return finish();
        if (m_input.size() > 0) {
            bump(m_utxo_waits, 1);
            return moved ? flow::Step::progressed : flow::Step::blocked;
        }
        return moved ? flow::Step::progressed : flow::Step::idle;
    }
    const std::size_t n = m_in.try_dequeue_bulk(m_jobs.begin(), want);
    if (n == 0) {
        if (m_input.closed_and_empty()) return finish();
        return moved ? flow::Step::progressed : flow::Step::idle;
    }
    counters().add_in(n);
    // available() said `want` were ready and only this thread pops, so all
    // `n` are there; anything else means a second consumer.
    if (m_ring.try_pop_bulk(std::span<chain::Utxo>(m_utxos.data(), n)) != n) {
        broken_invariant(
            "the UTXO ring had fewer UTXOs than it reported; a UtxoRing takes one "
            "consumer (one sign stage per ring)");
    }
    for (std::size_t i = 0; i < n; ++i)
        m_jobs[i].utxo = m_utxos[i];
    m_count = n;
    m_emitted = 0;
    m_head_fact_out = false;
    m_held.store(n, std::memory_order_relaxed);

    sign_chunk();

    std::uint64_t ok = 0;
    for (std::size_t i = 0; i < n; ++i)
        ok += m_ok[i];
    const std::uint64_t failed = n - ok;
    bump(m_signed, ok);
    if (failed != 0) {
        bump(m_failed, failed);
        bump(m_dirty, failed);
        counters().add_rejected(failed);
    }

    emit(now, moved);
    return flow::Step::progressed;
}

flow::Step SignStage::fail_unfunded(flow::Nanos now, std::size_t budget, bool moved) noexcept {
    const std::size_t n =
        m_in.try_dequeue_bulk(m_jobs.begin(), std::min(budget, m_options.max_chunk));
    if (n == 0) {
        if (m_input.closed_and_empty()) return finish();
        return moved ? flow::Step::progressed : flow::Step::idle;
    }
    counters().add_in(n);
    for (std::size_t i = 0; i < n; ++i) {
        m_jobs[i].utxo = chain::Utxo{};
        m_jobs[i].txid = chain::Hash256{};
        m_jobs[i].raw.size = 0;
        m_jobs[i].ef.size = 0;
        m_jobs[i].fail = model::FailCode::no_utxo;
        m_ok[i] = 0;
    }
    m_count = n;
    m_emitted = 0;
    m_head_fact_out = false;
    m_held.store(n, std::memory_order_relaxed);
    bump(m_failed, n);
    bump(m_unfunded, n);
    counters().add_rejected(n);
    emit(now, moved);
    return flow::Step::progressed;
}

void SignStage::sign_chunk() noexcept {
    Parallel& p = *m_parallel;
    auto sign_one = [this, &p](std::size_t i, std::size_t slot) noexcept {
        SlotScratch& s = p.scratch[slot];
        model::Job& job = m_jobs[i];
        const chain::RaregenPayload payload = chain::raregen_payload(job.record_hash);
        const chain::ByteSpan pushes[1] = {payload.span()};
        const chain::BuildResult r = s.builder.build(m_key, job.utxo, pushes, m_publication, s.raw,
                                                     m_options.extended ? &s.ef : nullptr);
        bool ok = r.ok() && job.raw.assign(s.raw);
        if (ok && m_options.extended) ok = job.ef.assign(s.ef);
        if (!m_options.extended) job.ef.size = 0;
        if (ok) {
            job.txid = r.txid;
        } else {
            job.txid = chain::Hash256{};
            job.raw.size = 0;
            job.ef.size = 0;
            job.fail = r.error == chain::BuildError::fee_above_ceiling
                           ? model::FailCode::fee_ceiling
                           : model::FailCode::build_failed;
        }
        m_ok[i] = ok ? 1 : 0;
    };
    if (m_options.live_fee_rate) m_publication.fee_rate = m_options.live_fee_rate();
    p.pool.run(m_count, sign_one);
}

bool SignStage::emit(flow::Nanos now, bool& moved) noexcept {
    while (m_emitted < m_count) {
        model::Job& job = m_jobs[m_emitted];
        const bool ok = m_ok[m_emitted] != 0;
        if (!m_head_fact_out) {
            // The fact first, so that it is on its way to the write-behind
            // before the job can reach the gate, whose fence waits for it.
            const model::FactKind kind =
                ok ? model::FactKind::tx_signed : model::FactKind::job_failed;
            const model::FactTicket ticket = m_facts.try_emit(kind, job, now);
            if (ticket == 0) return false;
            // The gate's fence holds the job until this ticket is durable.
            if (ok) job.signed_ticket = ticket;
            m_head_fact_out = true;
            moved = true;
        }
        if (ok) {
            if (!m_out.try_enqueue(job)) return false;
            counters().add_out();
        }
        m_head_fact_out = false;
        ++m_emitted;
        moved = true;
        m_held.store(m_count - m_emitted, std::memory_order_relaxed);
    }
    return true;
}

flow::Step SignStage::finish() noexcept {
    m_out.close();
    m_finished = true;
    return flow::Step::finished;
}

}  // namespace raregen::sign
