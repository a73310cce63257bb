-- Top-N without a partition, places 2 to 4 (rn > 1 AND rn <= 4), with a
-- condition on the rows beside the one on the place, applied after the
-- ranking as in Flink.
-- rows: as a changelog
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
  amount DOUBLE,
  big BOOLEAN,
  rn BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT `user`, amount, amount > 180 AS big, rn FROM (
  SELECT *, ROW_NUMBER() OVER (ORDER BY amount DESC) AS rn
  FROM tx
  WHERE amount IS NOT NULL
) WHERE rn > 1 AND rn <= 4 AND `user` <> 'u3';
