-- Window Top-N, as in Flink's documentation: per 10-second tumbling
-- window, the three merchants with the largest total, with their place;
-- each window's places once, when the window closes (append-only).
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
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  merchant STRING,
  total DOUBLE,
  cnt BIGINT,
  rownum BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS rownum
  FROM (
    SELECT window_start, window_end, merchant, SUM(amount) AS total, COUNT(*) AS cnt
    FROM TABLE(TUMBLE(TABLE tx, DESCRIPTOR(ts), INTERVAL '10' SECOND))
    GROUP BY window_start, window_end, merchant
  )
) WHERE rownum <= 3;
