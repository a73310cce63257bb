-- Window join over sliding windows (10 s every 5 s), each side filtered
-- in its own subquery, joined on two keys.
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
  window_end TIMESTAMP(3),
  merchant STRING,
  n INT,
  ms INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT L.`user`, R.window_end, L.merchant, L.n, R.ms
FROM (SELECT * FROM TABLE(HOP(TABLE tx, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND)) WHERE amount > 20) L
JOIN (SELECT * FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(click_time), INTERVAL '5' SECOND, INTERVAL '10' SECOND)) WHERE page <> 'home') R
ON L.`user` = R.`user` AND L.flag = (R.ms > 3000) AND L.window_start = R.window_start AND L.window_end = R.window_end;
