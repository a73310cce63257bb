-- GROUP BY with WHERE and HAVING, without a window: a group leaves the
-- result when HAVING stops holding (its old row retracted), and the NULL
-- merchant is a group too.
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
  merchant STRING,
  cnt BIGINT,
  avg_amount DOUBLE,
  smallest DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT merchant, COUNT(*), AVG(amount), MIN(amount)
FROM tx
WHERE n > 0
GROUP BY merchant
HAVING COUNT(*) > 3 AND MAX(amount) < 178;
