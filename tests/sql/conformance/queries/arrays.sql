-- Arrays of JSON: ARRAY<STRING> and ARRAY<INT> columns passed through,
-- CARDINALITY, items by index (from 1; NULL past the end) and
-- ARRAY_CONTAINS, over carts that are empty, missing or NULL too.
CREATE TABLE carts (
  ts BIGINT,
  `user` STRING,
  items ARRAY<STRING>,
  qty ARRAY<INT>
) WITH ('connector' = 'filesystem', 'path' = '{input}/carts.jsonl', 'format' = 'json');

CREATE TABLE out_rows (
  `user` STRING,
  items ARRAY<STRING>,
  n INT,
  first_item STRING,
  second_qty INT,
  has_apple BOOLEAN
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO out_rows
SELECT `user`, items, CARDINALITY(items), items[1], qty[2], ARRAY_CONTAINS(items, 'apple')
FROM carts WHERE CARDINALITY(qty) <> 1 OR qty IS NULL;
