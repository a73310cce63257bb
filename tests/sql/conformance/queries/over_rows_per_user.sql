-- OVER a window of rows: each transaction with the sum, count, least and
-- greatest amount of its user's last three (ROWS BETWEEN 2 PRECEDING AND
-- CURRENT ROW); SUM, MIN, MAX and COUNT(amount) skip NULL amounts.
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
  amount DOUBLE,
  last3 DOUBLE,
  rows3 BIGINT,
  amounts3 BIGINT,
  low DOUBLE,
  high DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT ts, `user`, amount,
  SUM(amount) OVER w, COUNT(*) OVER w, COUNT(amount) OVER w,
  MIN(amount) OVER w, MAX(amount) OVER w
FROM tx
WINDOW w AS (PARTITION BY `user` ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW);
