-- Joining streams: every click is enriched with its user's profile, looked up in the table
-- `profiles` (latest profile per user_id) when the click is processed. A profile that
-- arrives after a click does not change that click (ksqlDB/Kafka Streams semantics); clicks
-- from then on see it.
CREATE STREAM clicks (ts BIGINT, user_id VARCHAR, page VARCHAR, action VARCHAR, device VARCHAR)
  WITH (kafka_topic='clicks', value_format='JSON', timestamp='ts');

CREATE TABLE profiles (user_id VARCHAR PRIMARY KEY, name VARCHAR, city VARCHAR,
  country VARCHAR, tier VARCHAR, version BIGINT)
  WITH (kafka_topic='profiles', value_format='JSON');

CREATE STREAM enriched_clicks AS
  SELECT c.ts, c.user_id, c.page, c.action, p.name, p.tier, p.city, p.version
  FROM clicks c LEFT JOIN profiles p ON c.user_id = p.user_id;

CREATE TABLE clicks_by_tier AS
  SELECT COALESCE(p.tier, 'unknown') AS tier, COUNT(*) AS clicks
  FROM clicks c LEFT JOIN profiles p ON c.user_id = p.user_id
  GROUP BY COALESCE(p.tier, 'unknown')
  EMIT CHANGES;
