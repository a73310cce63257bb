-- String functions; CONCAT and || with a NULL operand give NULL.
CREATE TABLE tx (
  ts BIGINT,
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  up STRING,
  low STRING,
  len INT,
  joined STRING,
  piped STRING,
  head STRING
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT UPPER(`user`), LOWER(UPPER(merchant)), CHAR_LENGTH(`user`), CONCAT(`user`, '-', merchant), `user` || '/' || merchant, SUBSTRING(`user` FROM 1 FOR 2) FROM tx;
