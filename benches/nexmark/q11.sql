-- Q11: user sessions: bids per bidder in each session of activity with gaps under 10 s.
SELECT bidder, COUNT(*) AS bid_count, SESSION_START(datetime, INTERVAL '10' SECOND) AS starttime,
  SESSION_END(datetime, INTERVAL '10' SECOND) AS endtime
FROM bid
GROUP BY bidder, SESSION(datetime, INTERVAL '10' SECOND);
