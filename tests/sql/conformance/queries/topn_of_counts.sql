-- Top-N of an updating aggregation without the place: the three users
-- with the most transactions of more than 20 (a condition on the
-- aggregation's rows, applied to each change), their count breaking ties
-- by name, as a set of rows; a user whose count grows but stays in the
-- three changes its row, one that falls out is deleted.
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
  `user` STRING,
  cnt BIGINT,
  biggest DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT `user`, cnt, biggest FROM (
  SELECT *, ROW_NUMBER() OVER (ORDER BY cnt DESC, `user` ASC) AS rn
  FROM (
    SELECT `user`, COUNT(*) AS cnt, MAX(amount) AS biggest
    FROM tx
    WHERE amount > 20
    GROUP BY `user`
  )
  WHERE cnt > 1
) WHERE rn <= 3;
