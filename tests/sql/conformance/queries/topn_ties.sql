-- Top-N over a column with many ties (n, 47 values over 400 rows): of two
-- rows with one n, the one that came first keeps the better place; two
-- columns of order, the second breaking ties of the first.
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
  merchant STRING,
  n INT,
  amount DOUBLE,
  `user` STRING,
  place BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT merchant, n, amount, `user`, place FROM (
  SELECT merchant, n, amount, `user`,
         ROW_NUMBER() OVER (PARTITION BY merchant ORDER BY n DESC, flag) AS place
  FROM tx
  WHERE n IS NOT NULL
) WHERE place <= 4;
