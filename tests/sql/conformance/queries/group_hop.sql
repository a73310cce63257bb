-- Flink's group hopping window (GROUP BY HOP(…), user): 4 s every 2 s
-- per user, with HOP_START and HOP_END, and AVG of a DOUBLE.
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
  hop_start TIMESTAMP(3),
  hop_end TIMESTAMP(3),
  cnt BIGINT,
  avg_amount DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT `user`, HOP_START(ts, INTERVAL '2' SECOND, INTERVAL '4' SECOND),
       HOP_END(ts, INTERVAL '2' SECOND, INTERVAL '4' SECOND), COUNT(*), AVG(amount)
FROM tx
GROUP BY HOP(ts, INTERVAL '2' SECOND, INTERVAL '4' SECOND), `user`;
