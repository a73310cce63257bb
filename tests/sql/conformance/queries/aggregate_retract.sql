-- An aggregation of an updating aggregation: how many users have each
-- transaction count, and their average total, as the counts change (a
-- user's old count is taken back when it grows; a count no user has any
-- more is deleted).
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
  cnt BIGINT,
  users BIGINT,
  avg_total DOUBLE,
  big_users BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT cnt, COUNT(*), AVG(total), SUM(CASE WHEN total > 500 THEN 1 ELSE 0 END)
FROM (
  SELECT `user`, COUNT(*) AS cnt, SUM(amount) AS total
  FROM tx
  GROUP BY `user`
) per_user
GROUP BY cnt;
