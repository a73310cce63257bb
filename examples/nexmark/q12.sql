-- Nexmark q12, processing-time windows: how many bids each bidder makes
-- in each 10 s of the wall clock, as nexmark-flink's queries/q12.sql
-- writes it: the processing time added in a subquery (`SELECT *,
-- PROCTIME() AS p_time FROM bid`), which weir reads as the table's
-- computed column `p_time AS PROCTIME()`. Which window a bid lands in
-- depends on when it is read, so no two runs give the same rows; each
-- bid is counted once.
CREATE TABLE bid (
  auction BIGINT,
  bidder BIGINT,
  price BIGINT,
  channel STRING,
  url STRING,
  `dateTime` TIMESTAMP(3),
  extra STRING
) WITH ('connector' = 'datagen', 'schema' = 'nexmark-bid', 'number-of-rows' = '9200000');

CREATE TABLE nexmark_q12 (
  bidder BIGINT,
  bid_count BIGINT,
  starttime TIMESTAMP(3),
  endtime TIMESTAMP(3)
) WITH ('connector' = 'blackhole');

INSERT INTO nexmark_q12
SELECT
    B.bidder,
    count(*) AS bid_count,
    TUMBLE_START(B.p_time, INTERVAL '10' SECOND) AS starttime,
    TUMBLE_END(B.p_time, INTERVAL '10' SECOND) AS endtime
FROM (SELECT *, PROCTIME() AS p_time FROM bid) B
GROUP BY B.bidder, TUMBLE(B.p_time, INTERVAL '10' SECOND);
