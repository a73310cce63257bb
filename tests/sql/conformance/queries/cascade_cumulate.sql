-- A window of cumulating windows (a 30 s day in 10 s steps), grouped
-- again by the inner windows and the merchant: the users who bought
-- there and their largest count, beside the windows' bounds as Flink
-- keeps them (window_start and window_end, not renamed).
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
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  merchant STRING,
  users BIGINT,
  most BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT window_start, window_end, merchant, COUNT(*), MAX(cnt)
FROM (
  SELECT window_start, window_end, merchant, `user`, COUNT(*) AS cnt
  FROM TABLE(CUMULATE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '30' SECOND))
  GROUP BY window_start, window_end, merchant, `user`
) AS w
GROUP BY window_start, window_end, merchant;
