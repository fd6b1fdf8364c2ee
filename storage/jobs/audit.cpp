#include "storage/jobs/audit.h"

#include <set>

#include "engine/chain/publication.h"
#include "engine/chain/tx.h"

namespace raregen::jobs {

pg::Status audit_batches(pg::Connection& conn, const std::string& instance_id, BatchAudit& out) {
    out = BatchAudit{};
    pg::Result r = conn.exec_params(R"SQL(
WITH ids AS (
    SELECT DISTINCT processing_batch_id AS id FROM publish_jobs
     WHERE processing_batch_id IS NOT NULL AND instance_id IS NOT NULL
       AND instance_id <> 'legacy' AND ($1 = '' OR instance_id = $1)
), b AS (
    SELECT j.processing_batch_id AS id, count(*) AS n, min(j.batch_seq) AS lo,
           max(j.batch_seq) AS hi, count(DISTINCT j.batch_seq) AS d
      FROM publish_jobs j JOIN ids ON ids.id = j.processing_batch_id
     GROUP BY 1
), judged AS (
    SELECT b.id, pb.batch_id IS NULL AS no_row,
           pb.batch_id IS NOT NULL AND pb.job_count IS DISTINCT FROM b.n AS differs,
           b.lo IS DISTINCT FROM 1 OR b.hi IS DISTINCT FROM b.n OR b.d <> b.n AS broken
      FROM b LEFT JOIN publish_batches pb ON pb.batch_id = b.id
)
SELECT count(*), count(*) FILTER (WHERE no_row), count(*) FILTER (WHERE differs),
       count(*) FILTER (WHERE broken),
       coalesce(min(id) FILTER (WHERE no_row OR differs OR broken), '')
  FROM judged)SQL",
                                    instance_id);
    if (!r.ok()) return r.status();
    auto n = [&](int col) { return static_cast<std::uint64_t>(r.int64(0, col).value_or(0)); };
    out.batches = n(0);
    out.without_row = n(1);
    out.count_differs = n(2);
    out.seq_broken = n(3);
    out.example = std::string(r.text(0, 4));
    return pg::Status::success();
}

std::optional<HandedOver> handed_over(chain::ByteSpan bytes) {
    chain::Transaction tx;
    if (!chain::parse_transaction(bytes, tx).ok()) return std::nullopt;
    HandedOver h;
    const chain::Hash256 id = chain::compute_txid(tx);
    h.txid = chain::to_hex_reversed(chain::ByteSpan(id.data(), id.size()));
    if (const auto rh = chain::published_record_hash(tx))
        h.record_hash = chain::to_hex(chain::ByteSpan(rh->data(), rh->size()));
    for (const auto& in : tx.inputs)
        h.spent.push_back(chain::to_hex_reversed(
                              chain::ByteSpan(in.prevout.txid.data(), in.prevout.txid.size())) +
                          ":" + std::to_string(in.prevout.vout));
    return h;
}

pg::Status audit_exactly_once(pg::Connection& conn, const std::string& instance_id,
                              const std::vector<HandedOver>* handed, ExactlyOnceAudit& out) {
    out = ExactlyOnceAudit{};
    // raregen's jobs: an owner that is an engine (not the old service's
    // NULL, not the 'legacy' tag of an earlier raregen).
    pg::Result jobs = conn.exec_params(R"SQL(
SELECT record_hash, coalesce(txid, ''), status, coalesce(error_code, ''),
       txid IS NOT NULL AND signed_tx IS NOT NULL
  FROM publish_jobs
 WHERE instance_id IS NOT NULL AND instance_id <> 'legacy' AND ($1 = '' OR instance_id = $1))SQL",
                                       instance_id);
    if (!jobs.ok()) return jobs.status();
    std::map<std::string, std::string> sent_txid;  // record hash -> txid, sent jobs
    for (int i = 0; i < jobs.rows(); ++i) {
        ++out.jobs;
        const std::string_view status = jobs.text(i, 2);
        if (status == "sent" || status == "confirmed") {
            ++out.sent;
            if (jobs.text(i, 4) != "t") {
                ++out.sent_without_tx;
                if (out.example.empty())
                    out.example = "a sent job without its txid or bytes: record hash " +
                                  std::string(jobs.text(i, 0));
            }
            sent_txid[std::string(jobs.text(i, 0))] = std::string(jobs.text(i, 1));
        } else if (status == "failed") {
            ++out.failed;
            ++out.failed_by_code[std::string(jobs.text(i, 3))];
            if (jobs.text(i, 3).empty()) {
                ++out.failed_without_code;
                if (out.example.empty())
                    out.example = "a failed job without its error code: record hash " +
                                  std::string(jobs.text(i, 0));
            }
        } else {
            ++out.unfinished;
            if (out.example.empty())
                out.example = "a job left " + std::string(status) + ": record hash " +
                              std::string(jobs.text(i, 0));
        }
    }
    if (instance_id.empty()) {
        // Rows queued by anyone that no engine ever claimed are unfinished
        // work too (the old service's finished history is not judged).
        pg::Result waiting = conn.exec(
            "SELECT count(*) FROM publish_jobs WHERE instance_id IS NULL AND status = 'queued'");
        if (!waiting.ok()) return waiting.status();
        const auto n = static_cast<std::uint64_t>(waiting.int64(0, 0).value_or(0));
        out.unfinished += n;
        if (n > 0 && out.example.empty())
            out.example = std::to_string(n) + " queued rows no engine claimed";
    }
    pg::Result utxo = conn.exec_params(R"SQL(
SELECT count(*) FROM publish_jobs p LEFT JOIN utxos u
    ON p.spent_txid = u.txid AND p.spent_vout = u.vout
 WHERE p.instance_id IS NOT NULL AND p.instance_id <> 'legacy'
   AND ($1 = '' OR p.instance_id = $1)
   AND p.status IN ('sent', 'confirmed')
   AND (u.txid IS NULL OR u.status <> 'spent' OR u.spent_by_txid IS DISTINCT FROM p.txid))SQL",
                                       instance_id);
    if (!utxo.ok()) return utxo.status();
    out.utxo_disagrees = static_cast<std::uint64_t>(utxo.int64(0, 0).value_or(0));
    if (pg::Status st = audit_batches(conn, instance_id, out.batches); !st.ok()) return st;
    if (out.example.empty() && !out.batches.ok()) out.example = "batch " + out.batches.example;
    if (handed == nullptr) return pg::Status::success();

    out.compared = true;
    std::map<std::string, std::set<std::string>> published;  // record hash -> txids
    std::map<std::string, std::set<std::string>> spenders;   // outpoint -> txids
    std::set<std::string> seen;
    for (const HandedOver& h : *handed) {
        if (!seen.insert(h.txid).second) continue;  // the same transaction again
        ++out.transactions;
        for (const std::string& o : h.spent)
            spenders[o].insert(h.txid);
        if (h.record_hash.empty()) continue;
        ++out.publications;
        published[h.record_hash].insert(h.txid);
    }
    auto note = [&](std::string what) {
        if (out.example.empty()) out.example = std::move(what);
    };
    for (const auto& [hash, txid] : sent_txid) {
        const auto it = published.find(hash);
        if (it == published.end()) {
            ++out.missing;
            note("record hash " + hash + " of a sent job was not handed over");
        } else if (it->second.size() > 1) {
            ++out.twice;
            note("record hash " + hash + " published by " + std::to_string(it->second.size()) +
                 " transactions");
        } else if (*it->second.begin() != txid) {
            ++out.txid_differs;
            note("record hash " + hash + " published by " + *it->second.begin() +
                 ", the job says " + txid);
        } else {
            ++out.matched;
        }
    }
    for (const auto& [hash, txids] : published)
        if (!sent_txid.count(hash)) {
            ++out.not_a_sent_job;
            note("transaction " + *txids.begin() + " publishes a record no sent job has");
        }
    for (const auto& [outpoint, txids] : spenders)
        if (txids.size() > 1) {
            ++out.outpoint_twice;
            note("outpoint " + outpoint + " spent by " + std::to_string(txids.size()) +
                 " transactions");
        }
    return pg::Status::success();
}

}  // namespace raregen::jobs
