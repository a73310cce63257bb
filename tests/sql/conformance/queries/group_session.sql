-- Flink's group session window (GROUP BY SESSION(…), user): a session per
-- user, its end and row time, and a count.
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
  `user` STRING,
  ended TIMESTAMP(3),
  rowtime TIMESTAMP(3),
  cnt BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT `user`, SESSION_END(ts, INTERVAL '15' SECOND), SESSION_ROWTIME(ts, INTERVAL '15' SECOND), COUNT(*)
FROM tx
GROUP BY SESSION(ts, INTERVAL '15' SECOND), `user`;
