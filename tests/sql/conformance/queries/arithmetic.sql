-- Arithmetic: integer division and modulo, widening, negation, nulls propagate.
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
  cents DOUBLE,
  n1 INT,
  n2 BIGINT,
  secs BIGINT,
  rest BIGINT,
  half INT,
  neg DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT `user`, amount * 100, n + 1, CAST(n AS BIGINT) * 3000000000, ts / 1000, ts % 7, n / 2, -amount FROM tx;
