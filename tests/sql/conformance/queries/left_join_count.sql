-- An aggregation over a LEFT OUTER JOIN: per user with a transaction over
-- 150, how many of its clicks were on the cart (0 until the first: the
-- NULL-padded row counts no click, and is taken back when one comes).
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
  `user` STRING,
  carts BIGINT,
  pairs BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT t.`user`, COUNT(c.page), COUNT(*)
FROM tx t LEFT JOIN clicks c ON t.`user` = c.`user` AND c.page = 'cart'
WHERE t.amount > 150
GROUP BY t.`user`;
