-- COUNT(DISTINCT) beside MIN and MAX without a window: weir splits the
-- DISTINCT aggregate in two (per merchant and user, then per merchant),
-- so the MIN and MAX per merchant are of partial MINs and MAXes that
-- update: a user's old partial is taken back when a lower or higher
-- amount comes, and the merchant's extreme is found among those left.
-- rows: as a changelog
-- also with: state.backend=rocksdb batch_size=7
CREATE TABLE tx (
  ts TIMESTAMP(3),
  `user` STRING,
  amount DOUBLE,
  merchant STRING,
  n INT,
  flag BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{input}/tx_time.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  merchant STRING,
  users BIGINT,
  least DOUBLE,
  most DOUBLE,
  least_n INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT merchant, COUNT(DISTINCT `user`), MIN(amount), MAX(amount), MIN(n)
FROM tx
GROUP BY merchant;
