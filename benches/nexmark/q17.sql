-- Q17: auction statistics report: per auction and day, bids in total and per price rank,
-- and the minimum, maximum, average and sum of the prices. An unbounded group aggregation
-- (a group per auction and day, never closed). AVG is a DOUBLE here; the reference's Flink
-- AVG over BIGINT truncates to a BIGINT.
SELECT
  auction,
  DATE_FORMAT(datetime, 'yyyy-MM-dd') AS day,
  COUNT(*) AS total_bids,
  COUNT(*) FILTER (WHERE price < 10000) AS rank1_bids,
  COUNT(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
  COUNT(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
  MIN(price) AS min_price,
  MAX(price) AS max_price,
  AVG(price) AS avg_price,
  SUM(price) AS sum_price
FROM bid
GROUP BY auction, DATE_FORMAT(datetime, 'yyyy-MM-dd');
