-- A cumulating window (CUMULATE): per user, windows that start every
-- 10 s and grow by 2 s (a running count, sum and max that restarts every
-- 10 s).
-- rows: as a set (Flink fires the keys of one window in no fixed order)
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
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  `user` STRING,
  cnt BIGINT,
  total DOUBLE,
  max_n INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT window_start, window_end, `user`, COUNT(*), SUM(amount), MAX(n)
FROM TABLE(CUMULATE(TABLE tx, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
GROUP BY window_start, window_end, `user`;
