-- GROUP BY with a HAVING that stops holding for good: a user's row is
-- retracted once one of its amounts reaches 170 (an update's old row
-- deleted and no new one), so the changelog deletes.
-- rows: as a changelog
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
  total DOUBLE
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO out_rows
SELECT `user`, COUNT(*), SUM(amount)
FROM tx
GROUP BY `user`
HAVING MAX(amount) < 170;
