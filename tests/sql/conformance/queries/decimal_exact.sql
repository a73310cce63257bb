-- DECIMAL: amounts read as DECIMAL(10, 2) (JSON numbers with three
-- decimals rounded half up), exact arithmetic with decimal literals
-- (`0.015` is a DECIMAL(3, 3), not a DOUBLE), ROUND, casts from and to
-- DOUBLE (a DOUBLE rounded half up to the scale, as its shortest decimal
-- text), comparisons, and an INT widened to a DECIMAL sink column.
CREATE TABLE tx (
  ts BIGINT,
  `user` STRING,
  amount DECIMAL(10, 2),
  merchant STRING,
  n INT,
  flag BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  `user` STRING,
  amount DECIMAL(10, 2),
  fee DECIMAL(20, 5),
  net DECIMAL(20, 2),
  rounded DECIMAL(10, 1),
  as_double DOUBLE,
  from_double DECIMAL(10, 2),
  scaled DECIMAL(20, 1),
  n_wide DECIMAL(12, 2),
  big BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT `user`, amount, amount * 0.015, amount - 1.25 + n, ROUND(amount, 1),
       CAST(amount AS DOUBLE), CAST(CAST(amount AS DOUBLE) * 1.005e0 AS DECIMAL(10, 2)),
       n * 2.5, n, amount >= 100.00
FROM tx WHERE amount IS NOT NULL AND amount <> 0.00;
