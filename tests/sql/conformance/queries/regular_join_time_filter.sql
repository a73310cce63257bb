-- Regular join of two tables without a WATERMARK (no event time): each
-- transaction of merchant m1 with its user's clicks in the 30 s after it
-- — a condition on the times, but no time attribute, so a filter after a
-- regular join, not an interval join; two key columns of which one is an
-- expression.
-- rows: as a set (two inputs interleave in no fixed order)
CREATE TABLE tx (
  ts TIMESTAMP(3),
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx_time.jsonl', 'format' = 'json');

CREATE TABLE clicks (
  click_time TIMESTAMP(3),
  `user` STRING,
  page STRING,
  ms INT
) WITH ('connector' = 'filesystem', 'path' = '{input}/clicks_time.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  `user` STRING,
  ts TIMESTAMP(3),
  click_time TIMESTAMP(3),
  page STRING
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT t.`user`, t.ts, c.click_time, c.page
FROM tx t, clicks c
WHERE t.`user` = c.`user` AND MOD(t.n, 2) = MOD(c.ms, 2) AND t.merchant = 'm1'
  AND c.click_time BETWEEN t.ts AND t.ts + INTERVAL '30' SECOND;
