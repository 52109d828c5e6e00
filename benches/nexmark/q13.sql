-- Q13: bounded side input join: every bid with the side input's value for its auction id
-- modulo 10 000 (stream enrichment). The side input is a table the runner fills first.
SELECT B.auction, B.bidder, B.price, B.datetime, S."value" AS "value"
FROM bid AS B JOIN side_input AS S ON MOD(B.auction, 10000) = S."key";
