-- LEFT OUTER JOIN: each large transaction with every click of its user
-- that is not on the help page, and a transaction with no such click with
-- NULLs for the click (retracted when its user's first click comes).
-- rows: as a changelog
CREATE TABLE tx (
  ts TIMESTAMP(3),
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx_time.jsonl', 'format' = 'json');

CREATE TABLE clicks (
  click_time TIMESTAMP(3),
  `user` STRING,
  page STRING,
  ms INT,
  WATERMARK FOR click_time AS click_time - INTERVAL '1' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/clicks_time.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  `user` STRING,
  amount DOUBLE,
  page STRING,
  ms INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT t.`user`, t.amount, c.page, c.ms
FROM tx t LEFT JOIN clicks c ON t.`user` = c.`user` AND c.page <> 'help'
WHERE t.amount > 150;
