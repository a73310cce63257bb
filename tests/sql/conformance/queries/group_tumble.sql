-- Flink's group window (GROUP BY TUMBLE(…)) with TUMBLE_START/_END and
-- HAVING: the older form of a tumbling window aggregation.
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
  wstart TIMESTAMP(3),
  wend TIMESTAMP(3),
  cnt BIGINT,
  low DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT merchant, TUMBLE_START(ts, INTERVAL '30' SECOND), TUMBLE_END(ts, INTERVAL '30' SECOND),
       COUNT(*), MIN(amount)
FROM tx
WHERE merchant IS NOT NULL
GROUP BY TUMBLE(ts, INTERVAL '30' SECOND), merchant
HAVING COUNT(*) > 3;
