-- Nexmark q18, last bid (examples/nexmark/q18.sql) over the first 2,500 events of
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

CREATE TABLE nexmark_q18 (
  auction BIGINT,
  bidder BIGINT,
  price BIGINT,
  `dateTime` TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'debezium-json');

INSERT INTO nexmark_q18
SELECT auction, bidder, price, `dateTime`
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY `dateTime` DESC) AS rank_number
  FROM bid
)
WHERE rank_number <= 1;
