-- OVER every row before, without PARTITION BY (one partition): a
-- sequence number, the sum of n so far, the least amount so far
-- (ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), in expressions.
-- rows: as a set (Flink emits the keys of one time in no fixed order)
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
  ts TIMESTAMP(3),
  `user` STRING,
  seq BIGINT,
  total_n BIGINT,
  low_cents DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT ts, `user`,
  COUNT(*) OVER w AS seq,
  CAST(SUM(n) OVER w AS BIGINT) * 2 AS total_n,
  MIN(amount) OVER w * 100 AS low_cents
FROM tx
WINDOW w AS (ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);
