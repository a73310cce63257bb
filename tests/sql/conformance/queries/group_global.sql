-- An aggregation of the whole table, no GROUP BY: one row, updated by
-- every batch.
-- rows: as a changelog
CREATE TABLE tx (
  ts TIMESTAMP(3),
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx_time.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  cnt BIGINT,
  total_n INT,
  smallest DOUBLE,
  counted BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT COUNT(*), SUM(n), MIN(amount), COUNT(merchant)
FROM tx;
