-- Interval join on an expression of each table (the user's name in
-- upper case), bounded by two separate comparisons, one of them with
-- the click on the left: clicks from 3 s before to 3 s after.
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
  who STRING,
  amount DOUBLE,
  page STRING
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT UPPER(t.`user`) AS who, t.amount, c.page
FROM tx t JOIN clicks c ON UPPER(t.`user`) = UPPER(c.`user`)
WHERE c.click_time >= t.ts - INTERVAL '3' SECOND AND t.ts >= c.click_time - INTERVAL '3' SECOND;
