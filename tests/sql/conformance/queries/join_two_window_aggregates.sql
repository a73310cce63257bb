-- A join of two window aggregations on the key and the window (Nexmark
-- q8's shape): per user and 10-second window, the transactions' total
-- beside the clicks' count, for the windows that have both; the group
-- window form on one side, the table function on the other.
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
  WATERMARK FOR click_time AS click_time - INTERVAL '1' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/clicks_time.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  `user` STRING,
  starttime TIMESTAMP(3),
  total DOUBLE,
  clicks BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT T.`user`, T.starttime, T.total, C.clicks
FROM (
  SELECT `user`, SUM(amount) AS total,
         TUMBLE_START(ts, INTERVAL '10' SECOND) AS starttime,
         TUMBLE_END(ts, INTERVAL '10' SECOND) AS endtime
  FROM tx
  GROUP BY `user`, TUMBLE(ts, INTERVAL '10' SECOND)
) T
JOIN (
  SELECT `user`, COUNT(*) AS clicks, window_start AS starttime, window_end AS endtime
  FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(click_time), INTERVAL '10' SECOND))
  GROUP BY `user`, window_start, window_end
) C
ON T.`user` = C.`user` AND T.starttime = C.starttime AND T.endtime = C.endtime;
