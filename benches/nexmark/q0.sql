-- Q0: pass-through. Measures the cost of reading and writing events.
SELECT auction, bidder, price, datetime, extra FROM bid;
