-- Q7: highest bid: the bids with the highest price in each 10-second window (Flink's
-- window Top-N form of the query).
SELECT auction, price, bidder, datetime, extra FROM (
  SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rownum
  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(datetime), INTERVAL '10' SECOND))
) WHERE rownum <= 1;
