-- Session windows (gap 8 s) per merchant and flag: a SESSION partitioned
-- by two columns, one nullable; count and the session's bounds.
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
  merchant STRING,
  flag BOOLEAN,
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  cnt BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT merchant, flag, window_start, window_end, COUNT(*)
FROM TABLE(SESSION(TABLE tx PARTITION BY (merchant, flag), DESCRIPTOR(ts), INTERVAL '8' SECOND))
GROUP BY window_start, window_end, merchant, flag;
