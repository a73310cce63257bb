-- Window join with expressions over both sides and the window's time, a
-- condition across both tables after the join, and an unqualified column
-- only one table has.
-- rows: as a set (a window's pairs come in no fixed order)
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
  window_time TIMESTAMP(3),
  label STRING,
  weight DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT L.`user`, L.window_time, UPPER(R.page) || '@' || COALESCE(L.merchant, '?') AS label,
       CASE WHEN R.ms IS NULL THEN -1.0 ELSE L.amount * 1000 / ms END AS weight
FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '20' SECOND)) AS L
JOIN TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(click_time), INTERVAL '20' SECOND)) AS R
ON L.`user` = R.`user` AND L.window_start = R.window_start AND L.window_end = R.window_end
WHERE L.n > 10 OR R.page = 'cart';
