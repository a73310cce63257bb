-- NULL handling: COALESCE, IS [NOT] NULL in a projection and a filter.
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
  merchant STRING,
  has_merchant BOOLEAN,
  amount DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT `user`, COALESCE(merchant, 'none'), merchant IS NOT NULL, COALESCE(amount, 0.0) FROM tx WHERE n IS NULL OR amount IS NULL OR merchant IS NULL;
