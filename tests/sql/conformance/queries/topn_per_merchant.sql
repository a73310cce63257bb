-- Top-N: each merchant's three largest amounts with their place (rn),
-- as Flink's classic example; NULL amounts are the least, so they never
-- make the top, and transactions without a merchant are a partition too.
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
  ts TIMESTAMP(3),
  merchant STRING,
  `user` STRING,
  amount DOUBLE,
  rn BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT ts, merchant, `user`, amount, rn FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY merchant ORDER BY amount DESC) AS rn
  FROM tx
) WHERE rn <= 3;
