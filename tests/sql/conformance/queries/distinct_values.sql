-- The DISTINCT values themselves, with no key and no window: how many
-- distinct n (NULL not counted), their sum and average (each value once),
-- as the rows come.
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
  values_seen BIGINT,
  value_sum INT,
  value_avg INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT COUNT(DISTINCT n), SUM(DISTINCT n), AVG(DISTINCT n)
FROM tx;
