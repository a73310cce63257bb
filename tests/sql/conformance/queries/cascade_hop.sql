-- A window of windows: per sliding window (10 s every 5 s), the most
-- transactions and the largest total of any user, and how many users
-- spent; the inner aggregation renames its bounds, the outer groups by
-- them and filters with HAVING.
-- rows: as a set (Flink fires the keys of one window in no fixed order)
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
  s TIMESTAMP(3),
  e TIMESTAMP(3),
  most BIGINT,
  biggest DOUBLE,
  users BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT s, e, MAX(cnt), MAX(total), COUNT(*)
FROM (
  SELECT window_start AS s, window_end AS e, `user`, COUNT(*) AS cnt, SUM(amount) AS total
  FROM TABLE(HOP(TABLE tx, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
  WHERE amount > 0
  GROUP BY window_start, window_end, `user`
) AS per_user
GROUP BY s, e
HAVING COUNT(*) > 1;
