-- Pool depth by size: UTXOs by purpose, value and status. The publish pool
-- is purpose 'publish' at the publish value (100 sat), status 'available';
-- at the seed's 166.67 tx/s it lasts that many / 166.67 seconds.
SELECT purpose, satoshis, status,
       count(*) AS utxos,
       sum(satoshis) AS total_satoshis,
       round(count(*) / 166.67, 1) AS seconds_at_ceiling
  FROM utxos
 GROUP BY purpose, satoshis, status
 ORDER BY purpose, satoshis, status;
