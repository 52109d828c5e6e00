-- Q3: local item suggestion: who sells in category 10 in Oregon, Idaho or California.
SELECT P.name, P.city, P.state, A.id
FROM auction AS A JOIN person_by_id AS P ON A.seller = P.id
WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
