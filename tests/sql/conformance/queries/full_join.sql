-- FULL OUTER JOIN of transactions and clicks by user: ON
-- conditions on each table kept whole decide which rows may pair (a
-- transaction under 140 or a click under 2000 ms pairs with nothing but
-- is kept, padded with NULLs); the WHERE after the join drops the rows
-- of merchant m3, NULL-padded ones kept.
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

CREATE TABLE clicks (
  click_time TIMESTAMP(3),
  `user` STRING,
  page STRING,
  ms INT,
  WATERMARK FOR click_time AS click_time - INTERVAL '1' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/clicks_time.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  tx_user STRING,
  amount DOUBLE,
  merchant STRING,
  click_user STRING,
  page STRING,
  ms INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT t.`user`, t.amount, t.merchant, c.`user`, c.page, c.ms
FROM tx t FULL OUTER JOIN clicks c
  ON t.`user` = c.`user` AND t.amount >= 140 AND c.ms >= 2000
WHERE t.merchant IS NULL OR t.merchant <> 'm3';
