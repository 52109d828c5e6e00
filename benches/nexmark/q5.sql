-- Q5: hot items: the auctions with the most bids in each 10-second window, every 2 seconds
-- (Flink's window Top-N form of the query).
SELECT auction, num, window_start, window_end FROM (
  SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY num DESC) AS rownum
  FROM (
    SELECT auction, COUNT(*) AS num, window_start, window_end
    FROM TABLE(HOP(TABLE bid, DESCRIPTOR(datetime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
    GROUP BY auction, window_start, window_end
  )
) WHERE rownum <= 1;
