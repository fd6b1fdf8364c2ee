// WriteBehind alone: every job's full life (accepted, batched, signed,
// released, sent) pushed as fast as the writer takes it, against a private
// PostgreSQL 15 with production durability (fsync and synchronous commit
// on). Reports jobs and facts committed per second, mean facts per flush,
// and flush latency p50/p99 from the writer's own measurements.
//
// The fence is honoured as the pipeline does: a job's release and send are
// emitted only once its signed fact is durable, so flushes look like the
// engine's (accept/batch/sign of new jobs together with the outcome of
// older ones).

#include <benchmark/benchmark.h>

#include <deque>
#include <memory>
#include <string>

#include "storage/pg/connection.h"
#include "storage/pg/embedded.h"
#include "storage/pg/migrations.h"
#include "storage/writebehind/write_behind.h"

namespace raregen::writebehind {
namespace {

pg::EmbeddedPostgres& cluster() {
    static pg::EmbeddedPostgres pg = [] {
        pg::EmbeddedOptions o;  // production settings: fsync on
        return pg::EmbeddedPostgres(o);
    }();
    return pg;
}

std::string fresh_db(int n) {
    pg::Connection admin = pg::Connection::connect(cluster().conninfo());
    const std::string name = "wb_bench_" + std::to_string(n);
    admin.exec("DROP DATABASE IF EXISTS " + name);
    admin.exec("CREATE DATABASE " + name);
    const std::string conninfo = cluster().conninfo_for(name);
    pg::Connection c = pg::Connection::connect(conninfo);
    pg::Status st = pg::migrate(c);
    if (!st.ok()) throw std::runtime_error(st.message());
    return conninfo;
}

model::Job job(std::uint64_t i) {
    model::Job j;
    j.intake_seq = i;
    for (std::size_t b = 0; b < 16; ++b)
        j.job_id.bytes[b] = static_cast<std::uint8_t>((i >> (8 * (b % 8))) * 131 + b * 17);
    j.job_id.bytes[15] = static_cast<std::uint8_t>(i);
    std::memcpy(j.job_id.bytes.data(), &i, sizeof i);
    const std::string rid = "rec-" + std::to_string(i);
    j.record_id.assign(rid);
    for (std::size_t b = 0; b < 32; ++b)
        j.record_hash[b] = static_cast<std::uint8_t>(b * 7 + 1);
    std::memcpy(j.record_hash.data(), &i, sizeof i);
    j.signer[0] = 0x02;
    j.batch_no = 1 + i / 500;
    j.batch_seq = static_cast<std::uint32_t>(i % 500 + 1);
    std::memcpy(j.txid.data(), &i, sizeof i);
    j.txid[31] = 0x77;
    std::memcpy(j.utxo.outpoint.txid.data(), &i, sizeof i);
    j.utxo.outpoint.vout = 0;
    std::array<std::uint8_t, 299> raw{};
    j.raw.assign(chain::ByteSpan(raw.data(), raw.size()));
    std::array<std::uint8_t, 333> ef{};
    j.ef.assign(chain::ByteSpan(ef.data(), ef.size()));
    return j;
}

const std::string k_canonical =
    R"({"assetId":"asset-1","distribution":{"cdnUrl":"https://cdn.example/a","sha256":"ab"},)"
    R"("event":"REGISTER","nonce":"n","owners":[{"partyId":"p","role":"r","shareBps":10000}],)"
    R"("recordId":"rec","terms":{"rights":["stream"],"territory":"WW"},)"
    R"("timestamp":"2026-11-28T00:00:00Z","type":"music"})";

void BM_WriteBehindJobs(benchmark::State& state) {
    static int db_no = 0;
    const std::string conninfo = fresh_db(++db_no);
    const std::uint64_t jobs = static_cast<std::uint64_t>(state.range(0));
    WriteBehindStats last{};
    for (auto _ : state) {
        WriteBehindOptions o;
        o.conninfo = conninfo;
        o.instance_id = "bench";
        o.batch_prefix = "bench" + std::to_string(db_no);
        WriteBehind wb(o);
        wb.start();
        static std::uint64_t base = 0;
        std::deque<std::pair<model::FactTicket, model::Job>> waiting;  // signed, not yet durable
        auto emit = [&](model::FactKind k, const model::Job& j, std::string_view canon = {}) {
            model::FactTicket t;
            while ((t = wb.try_emit(k, j, {}, canon)) == 0) {
            }
            return t;
        };
        auto release_durable = [&] {
            while (!waiting.empty() && waiting.front().first <= wb.durable_through()) {
                emit(model::FactKind::tx_released, waiting.front().second);
                emit(model::FactKind::tx_sent, waiting.front().second);
                waiting.pop_front();
            }
        };
        for (std::uint64_t i = 0; i < jobs; ++i) {
            const model::Job j = job(base + i);
            emit(model::FactKind::job_accepted, j, k_canonical);
            emit(model::FactKind::job_batched, j);
            waiting.emplace_back(emit(model::FactKind::tx_signed, j), j);
            release_durable();
        }
        while (!waiting.empty())
            release_durable();
        base += jobs;
        wb.stop();
        last = wb.stats();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * jobs));
    state.counters["facts_per_s"] = benchmark::Counter(
        static_cast<double>(state.iterations() * jobs * 5), benchmark::Counter::kIsRate);
    state.counters["facts_per_flush"] = last.rows_per_flush_mean;
    state.counters["flush_p50_ms"] = last.flush_ms_p50;
    state.counters["flush_p99_ms"] = last.flush_ms_p99;
}
BENCHMARK(BM_WriteBehindJobs)
    ->Arg(20000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);

}  // namespace
}  // namespace raregen::writebehind
