-- CASE: searched and simple forms, nested, with NULLs.
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
  size STRING,
  sign INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT `user`, CASE WHEN amount >= 100 THEN 'big' WHEN amount >= 50 THEN 'mid' WHEN amount IS NULL THEN 'unknown' ELSE 'small' END, CASE n WHEN 0 THEN 0 ELSE CASE WHEN n > 0 THEN 1 ELSE -1 END END FROM tx;
