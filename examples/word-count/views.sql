-- Word count: the words of every line, counted overall, per 10-second tumbling window and
-- per 30-second window sliding every 10 seconds. Event time is the record time of the
-- line each word came from (ROWTIME): when it was typed into the socket, or the generated
-- time. The tokenizer (tokenize.py) turns lines into one {"word": ...} record per word.
CREATE STREAM words (word VARCHAR) WITH (kafka_topic='words', value_format='JSON');

CREATE TABLE word_counts AS
  SELECT word, COUNT(*) AS n FROM words GROUP BY word EMIT CHANGES;

CREATE TABLE word_counts_tumbling AS
  SELECT word, COUNT(*) AS n FROM words
  WINDOW TUMBLING (SIZE 10 SECONDS)
  GROUP BY word EMIT CHANGES;

CREATE TABLE word_counts_sliding AS
  SELECT word, COUNT(*) AS n FROM words
  WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS)
  GROUP BY word EMIT CHANGES;
