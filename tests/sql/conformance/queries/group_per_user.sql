-- GROUP BY without a window: an updating result, written as a changelog
-- (debezium-json); compared as the final table the changelog leaves.
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
  `user` STRING,
  cnt BIGINT,
  total DOUBLE,
  biggest DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT `user`, COUNT(*), SUM(amount), MAX(amount)
FROM tx
GROUP BY `user`;
