-- Computed columns on both sides of an interval join: a computed join
-- key on the clicks (the user, upper-cased, back to lower case) and a
-- computed value on each side.
-- rows: as a set (two inputs interleave in no fixed order)
CREATE TABLE tx (
  ts TIMESTAMP(3),
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN,
  cents AS CAST(amount * 100 AS BIGINT),
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx_time.jsonl', 'format' = 'json');

CREATE TABLE clicks (
  click_time TIMESTAMP(3),
  `user` STRING,
  page STRING,
  ms INT,
  who AS LOWER(UPPER(`user`)),
  seconds AS ms / 1000,
  WATERMARK FOR click_time AS click_time - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/clicks_time.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  ts TIMESTAMP(3),
  who STRING,
  cents BIGINT,
  page STRING,
  seconds INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT t.ts, c.who, t.cents, c.page, c.seconds
FROM tx t, clicks c
WHERE t.`user` = c.who
  AND c.click_time BETWEEN t.ts - INTERVAL '10' SECOND AND t.ts + INTERVAL '5' SECOND;
