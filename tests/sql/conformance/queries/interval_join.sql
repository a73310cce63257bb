-- Interval join: each transaction with its user's clicks from 10 s
-- before it to 5 s after it (BETWEEN, bounds inclusive); users that are
-- NULL join nothing. (Flink writes one time attribute into a sink: the
-- other is CAST to a plain TIMESTAMP(3).)
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
  ts TIMESTAMP(3),
  `user` STRING,
  amount DOUBLE,
  page STRING,
  click_ts TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT t.ts, t.`user`, t.amount, c.page, CAST(c.click_time AS TIMESTAMP(3)) AS click_ts
FROM tx t, clicks c
WHERE t.`user` = c.`user`
  AND c.click_time BETWEEN t.ts - INTERVAL '10' SECOND AND t.ts + INTERVAL '5' SECOND;
