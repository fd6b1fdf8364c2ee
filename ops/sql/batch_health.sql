-- Batch health: the newest $1 batches, each row of publish_batches against
-- the jobs that carry its id. A batch is sequential when its jobs are exactly
-- job_count, numbered batch_seq 1..job_count with no gap and no repeat.
WITH b AS (
    SELECT batch_id, job_count, status, created_at
      FROM publish_batches
     ORDER BY created_at DESC, batch_id DESC
     LIMIT $1
), j AS (
    SELECT b.batch_id,
           count(p.job_id) AS jobs,
           count(DISTINCT p.batch_seq) AS distinct_seq,
           min(p.batch_seq) AS min_seq,
           max(p.batch_seq) AS max_seq,
           count(p.job_id) FILTER (WHERE p.status IN ('sent', 'confirmed')) AS sent,
           count(p.job_id) FILTER (WHERE p.status = 'failed') AS failed
      FROM b
      LEFT JOIN publish_jobs p ON p.processing_batch_id = b.batch_id
     GROUP BY b.batch_id
)
SELECT b.batch_id, b.status, b.job_count, j.jobs, j.min_seq, j.max_seq, j.sent, j.failed,
       coalesce(j.jobs = b.job_count AND j.distinct_seq = j.jobs AND j.min_seq = 1
                AND j.max_seq = j.jobs, b.job_count = 0) AS sequential
  FROM b
  JOIN j USING (batch_id)
 ORDER BY b.created_at DESC, b.batch_id DESC;
