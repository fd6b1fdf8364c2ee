-- Error rate by code: jobs that failed in the last $1 seconds, per error
-- code, and their share of every job that ended (sent, confirmed or failed)
-- in that window.
WITH ended AS (
    SELECT status, error_code
      FROM publish_jobs
     WHERE status IN ('sent', 'confirmed', 'failed')
       AND updated_at > now() - make_interval(secs => $1)
)
SELECT coalesce(error_code, '(none)') AS code,
       count(*) AS failed,
       round(count(*)::numeric / (SELECT count(*) FROM ended), 4) AS share
  FROM ended
 WHERE status = 'failed'
 GROUP BY 1
 ORDER BY failed DESC, code;
