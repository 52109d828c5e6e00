-- Anomaly detection: per host, the average CPU over a 10-minute window sliding every 5
-- minutes is the baseline; a window whose peak reading is more than 30 points above its
-- baseline is an alert. Each window is judged once, when it closes (EMIT FINAL).
CREATE STREAM metrics (ts BIGINT, host VARCHAR, cpu DOUBLE, memory DOUBLE)
  WITH (kafka_topic='metrics', value_format='JSON', timestamp='ts');

-- The moving baseline, for dashboards.
CREATE TABLE cpu_baseline AS
  SELECT host, AVG(cpu) AS avg_cpu, MAX(cpu) AS max_cpu, COUNT(*) AS readings
  FROM metrics
  WINDOW HOPPING (SIZE 10 MINUTES, ADVANCE BY 5 MINUTES)
  GROUP BY host
  EMIT CHANGES;

-- Readings far above the baseline.
CREATE TABLE cpu_alerts AS
  SELECT host, AVG(cpu) AS baseline, MAX(cpu) AS peak, COUNT(*) AS readings
  FROM metrics
  WINDOW HOPPING (SIZE 10 MINUTES, ADVANCE BY 5 MINUTES)
  GROUP BY host
  HAVING MAX(cpu) > AVG(cpu) + 30
  EMIT FINAL;
