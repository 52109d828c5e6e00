"""kafka-python: a consumer in group GROUP reads TOPIC until it has COUNT records (or 30 s
pass), commits, and prints one line per record, `partition offset value`, in the order read
per partition. With committed offsets the group resumes there; without, from the earliest.

Usage: consume_commit.py BOOTSTRAP TOPIC GROUP COUNT
"""
import sys
import time

from kafka import KafkaConsumer

bootstrap, topic, group, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                         auto_offset_reset="earliest", enable_auto_commit=False)
read = []
deadline = time.time() + 30
while len(read) < count and time.time() < deadline:
    for records in consumer.poll(timeout_ms=200).values():
        read.extend(records)
consumer.commit()
consumer.close()
for m in sorted(read, key=lambda m: (m.partition, m.offset)):
    print(m.partition, m.offset, m.value.decode())
