-- Tumbling 15 s windows per flag: expressions over several aggregates in
-- the SELECT list and in HAVING, CASE over an aggregate.
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
  flag BOOLEAN,
  window_end TIMESTAMP(3),
  spread INT,
  per_row DOUBLE,
  size_class STRING
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT flag, window_end, MAX(n) - MIN(n), SUM(amount) / COUNT(*),
       CASE WHEN COUNT(*) >= 20 THEN 'big' WHEN COUNT(*) >= 10 THEN 'mid' ELSE 'small' END
FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '15' SECOND))
GROUP BY window_start, window_end, flag
HAVING MAX(n) - MIN(n) > 5 OR COUNT(*) < 8;
