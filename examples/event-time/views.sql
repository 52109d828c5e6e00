-- Event-time processing: sensor readings arrive out of order (up to 5 s) and some of them
-- minutes late. Event time is the `ts` field; the watermark trails the newest `ts` by 5 s.
-- Each 1-minute window is emitted once, when the watermark passes its end (EMIT FINAL, the
-- default of Flink's window functions); readings for a window already closed go to the
-- side output topic readings_per_minute-late with the reason.
CREATE TABLE readings (
  sensor_id STRING, site STRING, temperature DOUBLE, humidity DOUBLE, battery DOUBLE,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'readings', 'format' = 'json');

CREATE VIEW readings_per_minute AS
  SELECT window_start, window_end, sensor_id, COUNT(*) AS readings, AVG(temperature) AS avg_temp
  FROM TABLE(TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY window_start, window_end, sensor_id;
