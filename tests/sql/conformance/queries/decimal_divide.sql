-- DECIMAL division as Flink types it: DECIMAL(p1, s1) / DECIMAL(p2, s2) is
-- a DECIMAL with scale max(6, s1 + p2 + 1), rounded half up (an INT
-- divisor is a DECIMAL(10, 0)); a DOUBLE divisor makes a DOUBLE.
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
  thirds DECIMAL(38, 13),
  per_n DECIMAL(38, 13),
  by_rate DECIMAL(38, 12),
  halves DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT `user`, amount / 3, amount / n, amount / 1.07, amount / 2e0
FROM tx WHERE amount IS NOT NULL AND n IS NOT NULL AND n <> 0;
