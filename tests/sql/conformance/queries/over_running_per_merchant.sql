-- A running total per merchant (no frame: RANGE UNBOUNDED PRECEDING),
-- the merchant NULL for some rows (NULL is a partition too, as in Flink),
-- two aggregates each with the window written out, over flagged rows.
-- rows: as a set (Flink emits the keys of one time in no fixed order)
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
  ts TIMESTAMP(3),
  merchant STRING,
  amount DOUBLE,
  running_total DOUBLE,
  biggest_n INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT ts, merchant, amount,
  SUM(amount) OVER (PARTITION BY merchant ORDER BY ts) AS running_total,
  MAX(n) OVER (PARTITION BY merchant ORDER BY ts) AS biggest_n
FROM tx
WHERE flag;
