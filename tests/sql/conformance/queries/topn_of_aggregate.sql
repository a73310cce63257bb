-- Top-N of an updating aggregation (Flink's Top-N over a GROUP BY): each
-- merchant's two users with the largest total, with their place, as the
-- totals grow. A user that passes another takes its place (-U/+U at both
-- places); a user pushed to third place leaves; transactions without a
-- merchant are a partition too. The totals are sums of DOUBLEs: no ties.
-- rows: as a changelog
-- also with: state.backend=rocksdb
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
  `user` STRING,
  total DOUBLE,
  cnt BIGINT,
  rn BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT merchant, `user`, total, cnt, rn FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY merchant ORDER BY total DESC) AS rn
  FROM (
    SELECT merchant, `user`, SUM(amount) AS total, COUNT(*) AS cnt
    FROM tx
    WHERE amount IS NOT NULL
    GROUP BY merchant, `user`
  )
) WHERE rn <= 2;
