-- Nexmark q19, auction Top-N (examples/nexmark/q19.sql) over the first 2,500 events of
-- weir's Nexmark generator (input/nexmark_bid.jsonl).
-- Only some of the sink's columns, to keep the expected file small.
-- rows: as a changelog
CREATE TABLE bid (
  auction BIGINT,
  bidder BIGINT,
  price BIGINT,
  channel STRING,
  url STRING,
  `dateTime` TIMESTAMP(3),
  extra STRING,
  WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH ('connector' = 'filesystem', 'path' = '{input}/nexmark_bid.jsonl', 'format' = 'json');

CREATE TABLE nexmark_q19 (
  auction BIGINT,
  bidder BIGINT,
  price BIGINT,
  rank_number BIGINT
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO nexmark_q19
SELECT auction, bidder, price, rank_number FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number
  FROM bid
)
WHERE rank_number <= 10;
