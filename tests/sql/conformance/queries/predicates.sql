-- LIKE, IN, BETWEEN, operator precedence of AND over OR.
CREATE TABLE tx (
  ts BIGINT,
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  ts BIGINT,
  merchant STRING,
  n INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT ts, merchant, n FROM tx WHERE (merchant LIKE 'm1%' OR `user` LIKE '%7') AND n IN (1, 2, 3, 5, 8, 13, 21, 34) OR n BETWEEN 30 AND 32;
