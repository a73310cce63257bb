-- Computed columns: expressions over the physical columns, in their
-- declared places (SELECT * lists them there), usable in the WHERE.
CREATE TABLE tx (
  ts BIGINT,
  `user` STRING,
  cents AS CAST(amount * 100 AS BIGINT),
  amount DOUBLE,
  merchant STRING,
  label AS CONCAT(`user`, '@', merchant),
  n INT,
  flag BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  ts BIGINT,
  `user` STRING,
  cents BIGINT,
  amount DOUBLE,
  merchant STRING,
  label STRING,
  n INT,
  flag BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT * FROM tx WHERE cents > 5000 OR label IS NULL;
