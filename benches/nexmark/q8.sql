-- Q8: monitor new users: persons who registered and opened an auction in the same
-- 10-second window. Auctions are windowed by their time; the seller's registration is
-- looked up and must fall in the same window.
SELECT P.id AS id, P.name AS name, window_start AS starttime
FROM auction AS A JOIN person_by_id AS P ON A.seller = P.id
WINDOW TUMBLING (SIZE 10 SECONDS)
WHERE CAST(P.datetime AS BIGINT) - MOD(CAST(P.datetime AS BIGINT), 10000)
    = CAST(A.datetime AS BIGINT) - MOD(CAST(A.datetime AS BIGINT), 10000)
GROUP BY P.id, P.name
EMIT FINAL;
