-- Q4: the average closing price of auctions per category. The winning bid of each auction
-- is its highest bid made while the auction was open; that maximum changes as bids arrive,
-- so the average reads the first view as a table: each new maximum retracts the auction's
-- previous one (see docs/sql.md, "Reading a table").
CREATE TABLE q4_winning AS
SELECT A.id AS id, A.category AS category, MAX(B.price) AS final
FROM bid AS B JOIN auction_by_id AS A ON B.auction = A.id
WHERE B.datetime BETWEEN A.datetime AND A.expires
GROUP BY A.id, A.category;

SELECT category, AVG(final) AS avg_final
FROM q4_winning
GROUP BY category;
