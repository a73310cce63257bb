-- COUNT(DISTINCT) per user in tumbling 10 s windows, beside COUNT(*),
-- SUM, MAX and AVG of all the rows (the merchant is NULL on some rows:
-- COUNT(DISTINCT) skips it).
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
  `user` STRING,
  merchants BIGINT,
  cnt BIGINT,
  total DOUBLE,
  biggest DOUBLE,
  mean DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT window_start, `user`, COUNT(DISTINCT merchant), COUNT(*), SUM(amount), MAX(amount), AVG(amount)
FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, `user`;
