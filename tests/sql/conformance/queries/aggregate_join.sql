-- An aggregation over a join: per user, the clicks that came within 10 s
-- of a transaction and the amounts they followed (an updating result of
-- an interval join's rows), with a HAVING.
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
  WATERMARK FOR click_time AS click_time - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/clicks_time.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  `user` STRING,
  clicks BIGINT,
  total DOUBLE,
  pages BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT t.`user`, COUNT(*), SUM(t.amount), COUNT(c.page)
FROM tx t JOIN clicks c ON t.`user` = c.`user`
WHERE c.click_time BETWEEN t.ts AND t.ts + INTERVAL '10' SECOND
GROUP BY t.`user`
HAVING COUNT(*) > 1;
