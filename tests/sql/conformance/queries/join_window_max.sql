-- A regular join of a table with a window aggregation over it (Nexmark
-- q7's shape): each transaction that is the largest of its merchant's
-- 10-second window, found by joining the transactions with each window's
-- maximum on the merchant and the amount, the transaction's time within
-- the window (a filter after the join: window_end is no time attribute).
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

CREATE TABLE out_rows (
  `user` STRING,
  merchant STRING,
  amount DOUBLE,
  ts TIMESTAMP(3),
  wend TIMESTAMP(3),
  cnt BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT t.`user`, t.merchant, t.amount, t.ts, m.wend, m.cnt
FROM tx t
JOIN (
  SELECT merchant, MAX(amount) AS top, COUNT(*) AS cnt,
         window_start AS wstart, window_end AS wend
  FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))
  GROUP BY merchant, window_start, window_end
) m
ON t.merchant = m.merchant AND t.amount = m.top
WHERE t.ts >= m.wstart AND t.ts < m.wend;
