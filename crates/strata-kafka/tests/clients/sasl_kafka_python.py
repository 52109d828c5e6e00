"""kafka-python against a node with an auth token: produce 50 records and consume them back,
as SASL/PLAIN (`sasl` mode, with the given password) or plaintext (`plaintext` mode). Prints
one JSON line: the counts, or the error and the warnings kafka-python logged on the way."""
import json
import logging
import sys

from kafka import KafkaConsumer, KafkaProducer


class Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


warnings = Warnings()
logging.getLogger("kafka").addHandler(warnings)
logging.getLogger("kafka").setLevel(logging.WARNING)

bootstrap, topic, mode, password = sys.argv[1:5]
common = {"bootstrap_servers": bootstrap, "request_timeout_ms": 5000,
          "bootstrap_timeout_ms": 5000}
if mode == "sasl":
    common.update(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                  sasl_plain_username="analyst", sasl_plain_password=password)
try:
    producer = KafkaProducer(max_block_ms=5000, acks="all", **common)
    futures = [producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
               for i in range(50)]
    producer.flush(timeout=10)
    offsets = [f.get(timeout=10).offset for f in futures]
    producer.close()
    # The group is new: its first generation opens after the broker's initial rebalance
    # delay (3 s, as Kafka's), so the consumer may wait longer than that for its first record.
    consumer = KafkaConsumer(topic, group_id=f"{topic}-reader", auto_offset_reset="earliest",
                             consumer_timeout_ms=15000, **common)
    values = []
    for m in consumer:
        values.append(m.value.decode())
        if len(values) == 50:
            break
    consumer.close()
    print(json.dumps({"error": None, "acked": sorted(offsets) == list(range(50)),
                      "consumed": values == [f"v{i}" for i in range(50)]}))
except Exception as e:  # the failure is the result the test reads
    print(json.dumps({"error": type(e).__name__, "log": " | ".join(warnings.lines)}))
