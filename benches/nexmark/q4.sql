-- Q4 (inner part): the winning bid of each auction — the highest bid made while the
-- auction was open — with its category. Nexmark's Q4 then averages these per category,
-- a second aggregation over this one's changing results (see docs/benchmarks.md).
SELECT A.id AS id, A.category AS category, MAX(B.price) AS final
FROM bid AS B JOIN auction_by_id AS A ON B.auction = A.id
WHERE B.datetime BETWEEN A.datetime AND A.expires
GROUP BY A.id, A.category;
