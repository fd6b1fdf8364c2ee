-- Throughput: transactions sent in the last 3 seconds, and per second (the
-- seed's tx/s, its gate being 500 per 3 s: at most 166.67). A job confirmed
-- since is still counted: sent_at is when it was sent.
SELECT count(*) AS sent_last_3s,
       round(count(*) / 3.0, 2) AS tx_per_sec
  FROM publish_jobs
 WHERE sent_at > now() - interval '3 seconds';
