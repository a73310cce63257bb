-- Tumbling 5 s windows over everything: MIN, MAX and AVG of a nullable
-- INT (AVG of an INT is an INT in Flink), COUNT of a nullable column.
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
  window_end TIMESTAMP(3),
  rows_in BIGINT,
  with_n BIGINT,
  low INT,
  high INT,
  mean INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT window_end, COUNT(*), COUNT(n), MIN(n), MAX(n), AVG(n)
FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '5' SECOND))
GROUP BY window_start, window_end;
