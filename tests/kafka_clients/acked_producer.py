"""Produces a long stream with acks=all through confluent-kafka (librdkafka) and prints each
record the broker acknowledged, as soon as its delivery report arrives:

    {"partition": 2, "offset": 17, "value": "r1-00000053"}

Run by tests/kafka_crash.rs, which kills the node with SIGKILL mid-stream and then checks
that every printed record is in the log exactly once, at the printed offset. Each line is
flushed before the next report is handled, so a line on stdout means "acknowledged", even
if this process is killed a moment later.

usage: acked_producer.py BOOTSTRAP TOPIC TAG PARTITIONS COUNT
"""

import json
import sys

from confluent_kafka import KafkaException, Producer

bootstrap, topic, tag = sys.argv[1], sys.argv[2], sys.argv[3]
partitions, count = int(sys.argv[4]), int(sys.argv[5])

producer = Producer(
    {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        # Small batches, so that many produce requests are in flight when the node dies.
        "linger.ms": 2,
        "batch.num.messages": 200,
        # Not idempotent: every value is sent once per run and never retried to a new node
        # (the test kills this process with the node), so each value may appear at most once.
        "enable.idempotence": False,
    }
)


def report(err, msg):
    if err is None:
        line = {
            "partition": msg.partition(),
            "offset": msg.offset(),
            "value": msg.value().decode(),
        }
        print(json.dumps(line), flush=True)


for i in range(count):
    value = f"{tag}-{i:08d}"
    while True:
        try:
            producer.produce(topic, value=value, partition=i % partitions, on_delivery=report)
            break
        except BufferError:
            # The local queue is full: serve delivery reports until there is room.
            producer.poll(0.05)
        except KafkaException as e:
            print(json.dumps({"error": str(e)}), file=sys.stderr, flush=True)
            sys.exit(1)
    producer.poll(0)
producer.flush(30)
