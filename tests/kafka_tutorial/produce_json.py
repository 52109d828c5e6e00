"""Sends each line of stdin (one JSON document) as a record's value to TOPIC with
kafka-python, as the tutorial's producers do, and prints how many the broker acknowledged.

usage: produce_json.py BOOTSTRAP TOPIC < records.ndjson
"""

import json
import sys

from kafka import KafkaProducer

bootstrap, topic = sys.argv[1], sys.argv[2]
producer = KafkaProducer(
    bootstrap_servers=bootstrap,
    acks="all",
    value_serializer=lambda v: json.dumps(v).encode(),
)
futures = [producer.send(topic, json.loads(line)) for line in sys.stdin if line.strip()]
producer.flush()
acked = [f.get(timeout=10) for f in futures]  # raises with the broker's error, if any
producer.close()
print(len(acked))
