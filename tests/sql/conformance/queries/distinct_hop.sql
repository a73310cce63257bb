-- Distinct users per sliding window (10 s every 5 s, no key), beside the
-- largest amount and the rows with an n, written as a group window, with
-- a WHERE and a HAVING over the distinct count.
-- rows: as a set (two windows may close at one watermark)
CREATE TABLE tx (
  ts TIMESTAMP(3),
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx_time.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  window_end TIMESTAMP(3),
  users BIGINT,
  biggest DOUBLE,
  with_n BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT HOP_END(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND), COUNT(DISTINCT `user`),
       MAX(amount), COUNT(n)
FROM tx
WHERE amount > 0
GROUP BY HOP(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND)
HAVING COUNT(DISTINCT `user`) > 2;
