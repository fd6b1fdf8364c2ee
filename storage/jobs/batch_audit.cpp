#include "storage/jobs/batch_audit.h"

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

}  // namespace raregen::jobs
