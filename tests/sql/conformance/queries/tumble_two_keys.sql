-- Tumbling 30 s windows per merchant and flag (a group key of two
-- columns, one of them nullable): COUNT, SUM of an INT, MAX of a DOUBLE.
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
  merchant STRING,
  flag BOOLEAN,
  cnt BIGINT,
  total_n INT,
  top DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT window_start, merchant, flag, COUNT(*), SUM(n), MAX(amount)
FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '30' SECOND))
GROUP BY window_start, window_end, merchant, flag;
