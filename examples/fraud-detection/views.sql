-- Fraud detection: a card used in two or more cities within a short time. Any two
-- payments at most 5 minutes apart share one of these 10-minute windows that slide every
-- 5 minutes, so every such pair is caught.
CREATE STREAM payments (txn_id VARCHAR, ts BIGINT, card_id VARCHAR, merchant VARCHAR,
  category VARCHAR, amount DOUBLE, city VARCHAR, country VARCHAR)
  WITH (kafka_topic='payments', value_format='JSON', timestamp='ts');

CREATE TABLE card_alerts AS
  SELECT card_id, COUNT(DISTINCT city) AS cities, COUNT(*) AS payments,
         ROUND(SUM(amount), 2) AS total, LATEST_BY_OFFSET(city) AS last_city
  FROM payments
  WINDOW HOPPING (SIZE 10 MINUTES, ADVANCE BY 5 MINUTES)
  GROUP BY card_id
  HAVING COUNT(DISTINCT city) > 1
  EMIT CHANGES;
