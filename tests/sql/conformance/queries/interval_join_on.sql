-- Interval join with JOIN … ON, strict bounds written the other way
-- round (the transaction after the click, by less than 8 s), a condition
-- on one table, one across both, and expressions over both.
-- rows: as a set (two inputs interleave in no fixed order)
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
  WATERMARK FOR click_time AS click_time - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/clicks_time.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  `user` STRING,
  path STRING,
  doubled DOUBLE,
  total INT,
  ms INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT c.`user`, CONCAT(c.page, '/', t.merchant) AS path, t.amount * 2 AS doubled,
       t.n + c.ms AS total, ms
FROM tx AS t
JOIN clicks AS c ON t.`user` = c.`user` AND t.ts > c.click_time AND t.ts < c.click_time + INTERVAL '8' SECOND
WHERE c.page <> 'help' AND t.n * 200 > c.ms;
