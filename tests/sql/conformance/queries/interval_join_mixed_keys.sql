-- Interval join on keys of two types (an INT and a BIGINT expression,
-- compared as BIGINT) and a second key, within 20 s either way.
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
  n INT,
  ms INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT t.`user`, t.n, c.ms
FROM tx t, clicks c
WHERE t.n = CAST(c.ms AS BIGINT) / 250 AND t.`user` = c.`user`
  AND c.click_time BETWEEN t.ts - INTERVAL '20' SECOND AND t.ts + INTERVAL '20' SECOND;
