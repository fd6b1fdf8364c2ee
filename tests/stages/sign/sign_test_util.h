#pragma once
// Keys, jobs, UTXOs, fact sinks and a harness that drives a SignStage by
// hand (manual clock, explicit step() calls) for the sign stage tests.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/chain/bytes.h"
#include "engine/chain/hash.h"
#include "engine/chain/publication.h"
#include "engine/chain/script.h"
#include "engine/chain/sighash.h"
#include "engine/chain/tx.h"
#include "engine/chain/verify.h"
#include "engine/flow/channel.h"
#include "engine/flow/clock.h"
#include "engine/model/facts.h"
#include "engine/model/job.h"
#include "engine/model/utxo_ring.h"
#include "stages/sign/sign_stage.h"

namespace raregen::sign::testing {

inline chain::PublicationKey test_key() {
    chain::Bytes secret(32, 0x11);
    return chain::PublicationKey(*chain::PrivateKey::from_bytes(secret));
}

inline chain::Hash256 hash_of(std::uint64_t i, std::uint8_t domain) {
    std::uint8_t bytes[9] = {domain};
    for (int b = 0; b < 8; ++b)
        bytes[1 + b] = static_cast<std::uint8_t>(i >> (8 * b));
    return chain::sha256(chain::ByteSpan(bytes, 9));
}

// Job number i (intake_seq i + 1), with its own record hash.
inline model::Job make_job(std::uint64_t i) {
    model::Job job;
    job.intake_seq = i + 1;
    job.record_hash = hash_of(i, 'r');
    for (std::size_t b = 0; b < job.job_id.bytes.size(); ++b)
        job.job_id.bytes[b] = static_cast<std::uint8_t>(i + b);
    job.record_id.assign("record-" + std::to_string(i));
    job.batch_no = 1 + i / 100;
    job.batch_seq = static_cast<std::uint32_t>(1 + i % 100);
    return job;
}

// UTXO number i of a pool (distinct outpoints), worth `value`.
inline chain::Utxo make_utxo(std::uint64_t i, std::int64_t value = 100) {
    chain::Utxo u;
    u.outpoint.txid = hash_of(i, 'u');
    u.outpoint.vout = static_cast<std::uint32_t>(i % 3);
    u.value = value;
    return u;
}

// Remembers every fact, in order. Called from the thread stepping the stage.
class RecordingFactSink final : public model::FactSink {
  public:
    model::FactTicket durable_through() const noexcept override { return ~model::FactTicket{0}; }
    model::FactTicket m_ticket = 0;
    struct Fact {
        model::FactKind kind;
        std::uint64_t intake_seq;
        chain::Utxo utxo;
        chain::Hash256 txid;
    };
    model::FactTicket try_emit(model::FactKind kind, const model::Job& job, flow::Nanos,
                               std::string_view) noexcept override {
        ++m_calls;
        if (m_refuse_every != 0 && m_calls % m_refuse_every == 0) return 0;
        m_facts.push_back({kind, job.intake_seq, job.utxo, job.txid});
        return ++m_ticket;
    }
    // Refuse every k-th offer (0: accept all): the write-behind being full.
    void refuse_every(std::uint64_t k) { m_refuse_every = k; }
    // Room for n facts, so recording them does not allocate.
    void reserve(std::size_t n) { m_facts.reserve(n); }
    const std::vector<Fact>& facts() const { return m_facts; }

  private:
    std::vector<Fact> m_facts;
    std::uint64_t m_calls = 0;
    std::uint64_t m_refuse_every = 0;
};

// A stage between two channels, stepped by hand.
class Harness {
  public:
    Harness(std::size_t ring_capacity, SignStageOptions options, std::size_t input_capacity = 1024,
            std::size_t output_capacity = 1024)
        : m_key(test_key()),
          m_in(input_capacity),
          m_out(output_capacity),
          m_feeder(m_in.make_producer()),
          m_ring(ring_capacity),
          m_stage(m_in, m_out, m_ring, m_key, m_facts, options),
          m_drain(m_out.make_consumer()) {}

    // Jobs first..first+n-1; the input must have room.
    void feed(std::uint64_t first, std::uint64_t n) {
        for (std::uint64_t i = first; i < first + n; ++i)
            ASSERT_TRUE(m_feeder.try_enqueue(make_job(i)));
    }
    void close_input() { m_feeder.close(); }
    void add_utxos(std::uint64_t first, std::uint64_t n, std::int64_t value = 100) {
        for (std::uint64_t i = first; i < first + n; ++i)
            ASSERT_TRUE(m_ring.try_push(make_utxo(i, value)));
    }
    void add_utxo(const chain::Utxo& u) { ASSERT_TRUE(m_ring.try_push(u)); }

    flow::Step step(std::size_t budget = 64) {
        m_clock.advance(std::chrono::microseconds(10));
        return m_stage.step(m_clock.now(), budget);
    }
    // Moves everything in the output channel to received().
    std::size_t drain() {
        std::size_t n = 0;
        model::Job job;
        while (m_drain.try_dequeue(job)) {
            m_received.push_back(job);
            ++n;
        }
        return n;
    }
    // Steps and drains until the stage finishes; returns the step count.
    // Fails the test if it does not finish within `max_steps`.
    std::size_t run_to_end(std::size_t budget = 64, std::size_t max_steps = 100'000) {
        for (std::size_t steps = 1; steps <= max_steps; ++steps) {
            const flow::Step s = step(budget);
            drain();
            if (s == flow::Step::finished) return steps;
        }
        ADD_FAILURE() << "sign stage did not finish";
        return max_steps;
    }

    const chain::PublicationKey& key() const { return m_key; }
    SignStage& stage() { return m_stage; }
    utxo::UtxoRing& ring() { return m_ring; }
    RecordingFactSink& facts() { return m_facts; }
    flow::Channel<model::Job>& input() { return m_in; }
    flow::Channel<model::Job>::Producer& feeder() { return m_feeder; }
    flow::Channel<model::Job>& output() { return m_out; }
    const std::vector<model::Job>& received() const { return m_received; }

  private:
    chain::PublicationKey m_key;
    flow::ManualClock m_clock;
    flow::Channel<model::Job> m_in;
    flow::Channel<model::Job> m_out;
    flow::Channel<model::Job>::Producer m_feeder;
    utxo::UtxoRing m_ring;
    RecordingFactSink m_facts;
    SignStage m_stage;
    flow::Channel<model::Job>::Consumer m_drain;
    std::vector<model::Job> m_received;
};

// Checks that `job` carries a valid signed publication of its record hash,
// spending job.utxo with `key`, and that its EF form matches its raw form.
inline void expect_valid_publication(const model::Job& job, const chain::PublicationKey& key,
                                     bool extended = true) {
    SCOPED_TRACE("job " + std::to_string(job.intake_seq));
    chain::Transaction tx;
    const chain::ParseResult parsed = chain::parse_transaction(job.raw.span(), tx);
    ASSERT_TRUE(parsed.ok());
    ASSERT_EQ(parsed.format, chain::TxFormat::standard);
    EXPECT_EQ(chain::compute_txid(tx), job.txid);
    EXPECT_EQ(chain::sha256d(job.raw.span()), job.txid);
    ASSERT_EQ(tx.inputs.size(), 1u);
    EXPECT_EQ(tx.inputs[0].prevout, job.utxo.outpoint);

    chain::TxOut prev;
    prev.value = job.utxo.value;
    prev.script.assign(key.locking_script().begin(), key.locking_script().end());
    const chain::SighashCache cache = chain::SighashCache::compute(tx);
    EXPECT_EQ(chain::verify_p2pkh_input(tx, cache, 0, prev), chain::InputVerifyError::ok);

    ASSERT_GE(tx.outputs.size(), 1u);
    EXPECT_EQ(tx.outputs[0].value, 0);
    std::vector<chain::ByteSpan> pushes;
    ASSERT_TRUE(chain::parse_data_script(tx.outputs[0].script, pushes));
    ASSERT_EQ(pushes.size(), 1u);
    const chain::RaregenPayload payload = chain::raregen_payload(job.record_hash);
    EXPECT_TRUE(
        std::equal(pushes[0].begin(), pushes[0].end(), payload.bytes.begin(), payload.bytes.end()));

    if (!extended) {
        EXPECT_EQ(job.ef.size, 0u);
        return;
    }
    chain::Transaction ef;
    const chain::ParseResult ef_parsed = chain::parse_transaction(job.ef.span(), ef);
    ASSERT_TRUE(ef_parsed.ok());
    EXPECT_EQ(ef_parsed.format, chain::TxFormat::extended);
    ASSERT_EQ(ef.inputs.size(), 1u);
    ASSERT_TRUE(ef.inputs[0].prev.has_value());
    EXPECT_EQ(ef.inputs[0].prev->value, job.utxo.value);
    EXPECT_EQ(ef.inputs[0].prev->script, prev.script);
    EXPECT_EQ(chain::serialize(ef), chain::Bytes(job.raw.span().begin(), job.raw.span().end()));
}

}  // namespace raregen::sign::testing
