-- An event time computed from epoch milliseconds: Flink's usual
-- `rowtime AS TO_TIMESTAMP_LTZ(ts, 3)` with its WATERMARK, windowed.
-- rows: as a set (Flink fires the keys of one window in no fixed order)
CREATE TABLE tx (
  ts BIGINT,
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN,
  rowtime AS TO_TIMESTAMP_LTZ(ts, 3),
  WATERMARK FOR rowtime AS rowtime - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  `user` STRING,
  cnt BIGINT,
  total DOUBLE,
  last_ms BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT window_start, window_end, `user`, COUNT(*), SUM(amount), MAX(ts)
FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(rowtime), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, `user`;
