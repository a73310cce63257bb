-- Self-join on two keys: each transaction with the later ones (within
-- 30 s, its own excluded) of the same user at the same merchant. A row
-- with a NULL merchant joins nothing. (Flink writes one time attribute
-- into a sink: the other is CAST to a plain TIMESTAMP(3).)
-- rows: as a set (the join's pairs come in no fixed order)
CREATE TABLE tx (
  ts TIMESTAMP(3),
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx_time.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  `user` STRING,
  merchant STRING,
  first_ts TIMESTAMP(3),
  next_ts TIMESTAMP(3),
  change DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT a.`user`, a.merchant, CAST(a.ts AS TIMESTAMP(3)), b.ts, b.amount - a.amount
FROM tx a, tx b
WHERE a.`user` = b.`user` AND a.merchant = b.merchant
  AND b.ts > a.ts AND b.ts <= a.ts + INTERVAL '30' SECOND;
