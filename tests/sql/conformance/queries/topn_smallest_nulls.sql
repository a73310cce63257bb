-- Top-N ascending: each user's two smallest amounts among flagged
-- transactions; NULL is the least value, so NULL amounts come first.
-- The query does not read the place, so rows that only move within the
-- top two change nothing.
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
  amount DOUBLE,
  ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT `user`, amount, ts FROM (
  SELECT `user`, amount, ts,
         ROW_NUMBER() OVER (PARTITION BY `user` ORDER BY amount ASC) AS row_num
  FROM tx
  WHERE flag
) t WHERE row_num <= 2;
