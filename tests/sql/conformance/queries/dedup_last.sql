-- Deduplication keeping the last row: each merchant's latest transaction
-- (ORDER BY the event time DESC, rn = 1), updated as later ones come.
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
  merchant STRING,
  ts TIMESTAMP(3),
  `user` STRING,
  amount DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT merchant, ts, `user`, amount FROM (
  SELECT merchant, ts, `user`, amount,
         ROW_NUMBER() OVER (PARTITION BY merchant ORDER BY ts DESC) AS rn
  FROM tx
) WHERE rn = 1;
