-- GROUP BY two columns (a STRING and a BOOLEAN), with
-- expressions over the keys and the aggregates.
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
  who STRING,
  flag BOOLEAN,
  twice BIGINT,
  sum_n INT,
  mean DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT UPPER(`user`) AS who, flag, COUNT(*) * 2 AS twice, SUM(n), AVG(amount) + 1
FROM tx
GROUP BY `user`, flag;
