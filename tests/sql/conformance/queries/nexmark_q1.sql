-- Nexmark q1, currency conversion (examples/nexmark/q1.sql) over the first 2,500 events of
-- weir's Nexmark generator (input/nexmark_bid.jsonl).
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

CREATE TABLE nexmark_q1 (
  auction BIGINT,
  bidder BIGINT,
  price DOUBLE,
  `dateTime` TIMESTAMP(3),
  extra STRING
) WITH ('connector' = 'filesystem', 'path' = '{output}', 'format' = 'json');

INSERT INTO nexmark_q1
SELECT auction, bidder, 0.908 * price AS price, `dateTime`, extra FROM bid;
