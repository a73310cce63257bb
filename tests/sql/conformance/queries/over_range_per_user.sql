-- OVER a range of time: each transaction (of those the WHERE keeps) with
-- the average amount, the sum of n (an INT, so an INT) and the count of
-- its user's transactions in the 30 s up to it (RANGE BETWEEN INTERVAL
-- '30' SECOND PRECEDING AND CURRENT ROW).
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
  n INT,
  avg_amount DOUBLE,
  sum_n INT,
  cnt BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT ts, `user`, n,
  AVG(amount) OVER w AS avg_amount,
  SUM(n) OVER w AS sum_n,
  COUNT(*) OVER w AS cnt
FROM tx
WHERE amount IS NOT NULL OR n > 10
WINDOW w AS (PARTITION BY `user` ORDER BY ts RANGE BETWEEN INTERVAL '30' SECOND PRECEDING AND CURRENT ROW);
