-- Regular join: each large transaction with every click of its user that
-- is not on the help page, whatever their times (no time bounds: Flink's
-- regular join keeps both tables' rows for ever); NULL users join
-- nothing, and the watermarks make no row late.
-- rows: as a set (two inputs interleave in no fixed order)
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
  amount DOUBLE,
  page STRING,
  ms INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT t.`user`, t.amount, c.page, c.ms
FROM tx t JOIN clicks c ON t.`user` = c.`user`
WHERE t.amount > 150 AND c.page <> 'help';
