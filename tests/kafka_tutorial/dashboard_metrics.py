"""The tutorial's real-time dashboard (shared seed, "Example: Real-time Dashboard"): its
`/metrics` route returns the latest 100 metrics of topic `metrics`, JSON-decoded. The
tutorial reads them with pykafka:

    def get_kafka_consumer():
        client = KafkaClient(hosts="localhost:9092")
        topic = client.topics['metrics']
        return topic.get_simple_consumer()

    @app.route('/metrics')
    def metrics():
        consumer = get_kafka_consumer()
        metrics = []

        # Get latest 100 messages
        for _ in range(100):
            message = consumer.consume()
            if message:
                metrics.append(json.loads(message.value.decode()))

        return json.dumps(metrics[-100:])  # Return at most 100 latest metrics

pykafka (last release 2.8.0, 2020) fetches with Fetch v0-v2 and message formats v0/v1, which
Kafka 4 removed and strata refuses (docs/kafka-api.md, "Tutorial"): its consume() never gets
a message. This is the same route with kafka-python, which speaks record batches v2. Flask
is left out: `metrics()` is the route's body, and running this file prints what the route
returns.

It does what the tutorial's comments say, the latest 100 metrics: it starts each partition
100 records before its end. (pykafka's simple consumer starts at the earliest offset, so the
tutorial's loop actually returned the first 100 metrics ever produced, and blocked forever
on a topic holding fewer than 100.) It stops at the end offsets it saw when called instead
of waiting for more, so a request is answered at once whatever the topic holds.

usage: dashboard_metrics.py [BOOTSTRAP]    (default localhost:9092, as in the tutorial)
"""

import json
import sys

from kafka import KafkaConsumer, TopicPartition

HOSTS = sys.argv[1] if len(sys.argv) > 1 else "localhost:9092"


def get_kafka_consumer():
    # No group: like pykafka's simple consumer, a dashboard request reads without committing.
    consumer = KafkaConsumer(bootstrap_servers=HOSTS, enable_auto_commit=False)
    partitions = [TopicPartition("metrics", p) for p in consumer.partitions_for_topic("metrics") or ()]
    consumer.assign(partitions)
    return consumer, partitions


def metrics():
    consumer, partitions = get_kafka_consumer()
    ends = consumer.end_offsets(partitions)
    for tp in partitions:
        consumer.seek(tp, max(0, ends[tp] - 100))
    messages = []

    # Get latest 100 messages (of each partition; the newest 100 overall are kept below)
    while any(consumer.position(tp) < ends[tp] for tp in partitions):
        for batch in consumer.poll(timeout_ms=1000).values():
            messages.extend(m for m in batch if m.offset < ends[TopicPartition(m.topic, m.partition)])
    consumer.close()

    messages.sort(key=lambda m: (m.timestamp, m.partition, m.offset))
    metrics = [json.loads(m.value.decode()) for m in messages]
    return json.dumps(metrics[-100:])  # Return at most 100 latest metrics


if __name__ == "__main__":
    print(metrics())
