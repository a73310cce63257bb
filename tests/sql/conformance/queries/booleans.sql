-- Booleans: three-valued AND/OR/NOT, IS TRUE.
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
  a BOOLEAN,
  b BOOLEAN,
  c BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT `user`, flag AND n > 3, NOT flag OR amount < 0, flag IS TRUE FROM tx WHERE ts % 3 = 0;
