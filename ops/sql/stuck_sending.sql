-- The seed's safety rail: jobs in 'sending' for more than 2 minutes (a
-- broadcast without an answer; raregen looks them up by txid at ARC on its
-- next start, the old service moved them back to processing_batch).
SELECT count(*) AS stuck_sending
  FROM publish_jobs
 WHERE status = 'sending'
   AND sending_started_at < now() - interval '2 minutes';
