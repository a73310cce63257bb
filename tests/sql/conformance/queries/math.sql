-- Math functions over DOUBLE and INT.
CREATE TABLE tx (
  ts BIGINT,
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  `user` STRING,
  a DOUBLE,
  f DOUBLE,
  c DOUBLE,
  m INT,
  p DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT `user`, ABS(amount), FLOOR(amount), CEIL(amount), MOD(n, 3), POWER(CAST(n AS DOUBLE), 2) FROM tx;
