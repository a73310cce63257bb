-- Window Top-N over sliding windows (10 s every 5 s): per window, the
-- user with the most transactions among users with at least two (a
-- condition on the aggregation's results before the ranking), without
-- the place.
-- rows: as a set (Flink emits the windows' rows in no fixed order)
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
  `user` STRING,
  cnt BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT window_end, `user`, cnt FROM (
  SELECT window_end, `user`, cnt,
         ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY cnt DESC, `user`) AS rk
  FROM (
    SELECT window_start, window_end, `user`, COUNT(*) AS cnt
    FROM TABLE(HOP(TABLE tx, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
    GROUP BY window_start, window_end, `user`
  ) w
  WHERE cnt >= 2
) WHERE rk = 1;
