-- Nexmark's three event kinds as three streams, one topic each (see docs/benchmarks.md,
-- "Nexmark"). `person` and `auction` are also declared as tables keyed by id: a person
-- or an auction is never updated, so the table is the set of every one seen so far, and a
-- stream–table join on it is the join of the two streams.
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  datetime TIMESTAMP, extra VARCHAR)
  WITH (kafka_topic='bid', value_format='JSON', timestamp='datetime');
CREATE STREAM auction (id BIGINT, itemname VARCHAR, description VARCHAR, initialbid BIGINT,
  reserve BIGINT, datetime TIMESTAMP, expires TIMESTAMP, seller BIGINT, category BIGINT,
  extra VARCHAR)
  WITH (kafka_topic='auction', value_format='JSON', timestamp='datetime');
CREATE STREAM person (id BIGINT, name VARCHAR, emailaddress VARCHAR, creditcard VARCHAR,
  city VARCHAR, state VARCHAR, datetime TIMESTAMP, extra VARCHAR)
  WITH (kafka_topic='person', value_format='JSON', timestamp='datetime');
CREATE TABLE person_by_id (id BIGINT PRIMARY KEY, name VARCHAR, emailaddress VARCHAR,
  creditcard VARCHAR, city VARCHAR, state VARCHAR, datetime TIMESTAMP, extra VARCHAR)
  WITH (kafka_topic='person', value_format='JSON');
CREATE TABLE auction_by_id (id BIGINT PRIMARY KEY, itemname VARCHAR, description VARCHAR,
  initialbid BIGINT, reserve BIGINT, datetime TIMESTAMP, expires TIMESTAMP, seller BIGINT,
  category BIGINT, extra VARCHAR)
  WITH (kafka_topic='auction', value_format='JSON');
-- Query 13's bounded side input: 10 000 rows (key, value) that the runner writes first.
CREATE TABLE side_input ("key" BIGINT PRIMARY KEY, "value" VARCHAR)
  WITH (kafka_topic='side_input', value_format='JSON');
