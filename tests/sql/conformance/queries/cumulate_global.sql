-- A cumulating window over every row (no key): windows that start every
-- 20 s and grow by 5 s, with the count and the average so far, and a
-- filter before the window.
-- rows: as a set
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
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  cnt BIGINT,
  avg_amount DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT window_start, window_end, COUNT(*), AVG(amount)
FROM TABLE(CUMULATE(TABLE tx, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '20' SECOND))
WHERE merchant <> 'm2'
GROUP BY window_start, window_end;
