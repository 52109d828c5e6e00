-- Q20: expand bid with auction: the bids on auctions of category 10, with the auction's
-- columns (a filtered join; the auction table holds every auction seen so far).
SELECT B.auction AS auction, B.bidder AS bidder, B.price AS price, B.channel AS channel,
  B.url AS url, B.datetime AS bid_datetime, B.extra AS bid_extra,
  A.itemname AS itemname, A.description AS description, A.initialbid AS initialbid,
  A.reserve AS reserve, A.datetime AS auction_datetime, A.expires AS expires,
  A.seller AS seller, A.category AS category, A.extra AS auction_extra
FROM bid AS B JOIN auction_by_id AS A ON B.auction = A.id
WHERE A.category = 10;
