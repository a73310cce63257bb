-- CAST between numbers and strings; a DOUBLE cast to an integer truncates toward zero.
CREATE TABLE tx (
  ts BIGINT,
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  whole_part BIGINT,
  as_int INT,
  as_text STRING,
  round_trip DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT CAST(amount AS BIGINT), CAST(amount AS INT), CAST(n AS STRING), CAST(CAST(n AS STRING) AS DOUBLE) FROM tx;
