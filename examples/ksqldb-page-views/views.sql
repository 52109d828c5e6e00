-- ksqlDB's page-view counts, as written for ksqlDB (issue 4). No timestamp column: the
-- record time (ROWTIME) is event time; strata gen sets it to `viewtime`.
CREATE STREAM page_views (viewtime BIGINT, userid VARCHAR, pageid VARCHAR)
  WITH (kafka_topic='page_views', value_format='JSON');
CREATE TABLE page_view_counts AS
  SELECT pageid, COUNT(*) AS view_count FROM page_views
  WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY pageid EMIT CHANGES;
