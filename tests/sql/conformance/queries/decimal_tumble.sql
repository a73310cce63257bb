-- DECIMAL aggregates over tumbling 10 s windows per user: SUM is a
-- DECIMAL(38, 2), AVG a DECIMAL(38, 6) rounded half up, MIN and MAX the
-- column's type; NULL amounts are skipped, and a window whose amounts are
-- all NULL has a NULL sum.
-- rows: as a set (Flink fires the keys of one window in no fixed order)
CREATE TABLE tx (
  ts TIMESTAMP(3),
  `user` STRING,
  amount DECIMAL(10, 2),
  merchant STRING,
  n INT,
  flag BOOLEAN,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx_time.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  window_start TIMESTAMP(3),
  `user` STRING,
  cnt BIGINT,
  total DECIMAL(38, 2),
  mean DECIMAL(38, 6),
  lo DECIMAL(10, 2),
  hi DECIMAL(10, 2)
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT window_start, `user`, COUNT(amount), SUM(amount), AVG(amount), MIN(amount), MAX(amount)
FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, `user`;
