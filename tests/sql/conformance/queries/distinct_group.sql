-- COUNT(DISTINCT) without a window: per merchant, its distinct users and
-- its rows, total and average, a result that updates (the partial counts
-- per user are taken back as they grow).
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
  users BIGINT,
  cnt BIGINT,
  total DOUBLE,
  mean_n INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT merchant, COUNT(DISTINCT `user`), COUNT(*), SUM(amount), AVG(n)
FROM tx
GROUP BY merchant;
