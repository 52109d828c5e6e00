-- Word count in SQL alone: lines of plain text in, the words of every line counted overall,
-- per 10-second tumbling window and per 30-second window sliding every 10 seconds. Event time
-- is the record time of the line each word came from (ROWTIME): when it was typed into the
-- socket, or the generated time.
--
-- `lines` holds raw text (value_format='KAFKA': the whole record value is the one column).
-- EXPLODE makes one row per element of the array it is given; the words are the runs of
-- letters and digits of the lower-cased line (REGEXP_SPLIT_TO_ARRAY cuts at everything else,
-- which leaves an empty piece where a line starts or ends with punctuation: WHERE drops it).
-- With text that is only words and single spaces, EXPLODE(SPLIT(LCASE(line), ' ')) does the
-- same.
CREATE STREAM lines (line VARCHAR) WITH (kafka_topic='lines', value_format='KAFKA');

CREATE TABLE word_counts AS
  SELECT EXPLODE(REGEXP_SPLIT_TO_ARRAY(LCASE(line), '[^a-z0-9]+')) AS word, COUNT(*) AS n
  FROM lines
  WHERE word <> ''
  GROUP BY word EMIT CHANGES;

CREATE TABLE word_counts_tumbling AS
  SELECT EXPLODE(REGEXP_SPLIT_TO_ARRAY(LCASE(line), '[^a-z0-9]+')) AS word, COUNT(*) AS n
  FROM lines
  WINDOW TUMBLING (SIZE 10 SECONDS)
  WHERE word <> ''
  GROUP BY word EMIT CHANGES;

-- The same in Flink's words: the stream joined with the rows of its own array (EMIT CHANGES
-- shows open windows too; a Flink window table function alone emits each window when it
-- closes).
CREATE TABLE word_counts_sliding AS
  SELECT word, window_start, window_end, COUNT(*) AS n
  FROM TABLE(HOP(TABLE lines, DESCRIPTOR(rowtime), INTERVAL '10' SECOND, INTERVAL '30' SECOND))
    CROSS JOIN UNNEST(REGEXP_SPLIT_TO_ARRAY(LCASE(line), '[^a-z0-9]+')) AS t(word)
  WHERE word <> ''
  GROUP BY word, window_start, window_end
  EMIT CHANGES;
