-- WHERE before the window, HAVING after it, expressions over aggregates,
-- window_time, an INT group key with NULLs, a table alias.
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
  window_time TIMESTAMP(3),
  n INT,
  cnt BIGINT,
  per_row DOUBLE,
  spread DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT w.window_time, w.n, COUNT(*) AS cnt, SUM(w.amount) / COUNT(*), MAX(w.amount) - MIN(w.amount)
FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '20' SECOND)) AS w
WHERE w.amount > 0 AND NOT w.flag
GROUP BY w.window_start, w.window_end, w.n, w.window_time
HAVING COUNT(*) >= 2;
