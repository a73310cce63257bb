-- An aggregation without a window of a window aggregation's results: per
-- user, the 10 s windows they were seen in and their busiest window's
-- count, a result that updates as windows close.
-- rows: as a changelog
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
  windows BIGINT,
  busiest BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT `user`, COUNT(*), MAX(cnt)
FROM (
  SELECT window_start, window_end, `user`, COUNT(*) AS cnt
  FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))
  GROUP BY window_start, window_end, `user`
) AS w
GROUP BY `user`;
