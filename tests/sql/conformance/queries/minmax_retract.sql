-- MIN and MAX of an updating aggregation: per transaction count, the
-- least and greatest total of the users who have that count, as their
-- counts change. A user whose count grows takes its old total out of its
-- old count's group (which then needs every total it still has, to know
-- its new least and greatest) and adds its new one to the next group.
-- Also: a MAX over a column that is NULL for some users (never the
-- result while a number is there), a DECIMAL's MIN and an INT's MAX
-- (their types kept), and a group that loses all its users (deleted).
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
  least_total DOUBLE,
  most_total DOUBLE,
  most_big DOUBLE,
  least_cents DECIMAL(12, 2),
  most_n INT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT cnt, COUNT(*), MIN(total), MAX(total), MAX(big), MIN(cents), MAX(top_n)
FROM (
  SELECT `user`, COUNT(*) AS cnt, SUM(amount) AS total,
    CASE WHEN SUM(amount) > 500 THEN SUM(amount) END AS big,
    CAST(SUM(amount) AS DECIMAL(12, 2)) AS cents,
    MAX(n) AS top_n
  FROM tx
  GROUP BY `user`
) per_user
GROUP BY cnt;
