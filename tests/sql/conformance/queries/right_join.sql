-- RIGHT OUTER JOIN: each slow click with the transactions over 120 of its
-- user (a condition in ON on the table padded with NULLs), the click with
-- NULLs while it has none (a click with a NULL user for ever); the WHERE
-- keeps slow clicks only.
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
  page STRING,
  ms INT,
  amount DOUBLE,
  merchant STRING
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT c.`user`, c.page, c.ms, t.amount, t.merchant
FROM tx t RIGHT JOIN clicks c ON c.`user` = t.`user` AND t.amount > 120
WHERE c.ms > 3000;
