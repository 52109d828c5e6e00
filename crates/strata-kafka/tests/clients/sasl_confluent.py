"""confluent-kafka (librdkafka) against a node with an auth token: produce 50 records with
acks=all and consume them back, as SASL/PLAIN (`sasl` mode, with the given password) or
plaintext (`plaintext` mode). Prints one JSON line: counts and the client's error names."""
import json
import sys

from confluent_kafka import Consumer, Producer

bootstrap, topic, mode, password = sys.argv[1:5]
common = {"bootstrap.servers": bootstrap, "log_level": 0}
if mode == "sasl":
    common.update({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN",
                   "sasl.username": "analyst", "sasl.password": password})
errors = []


def on_error(err):
    errors.append((err.name(), err.str()))


delivered, failed = [], []


def report(err, msg):
    if err is None:
        delivered.append(msg.offset())
    else:
        failed.append(err.name())


producer = Producer({**common, "acks": "all", "message.timeout.ms": 5000, "error_cb": on_error})
for i in range(50):
    producer.produce(topic, key=f"k{i}", value=f"v{i}", on_delivery=report)
producer.flush(10)
values = []
if delivered:
    consumer = Consumer({**common, "group.id": f"{topic}-reader",
                         "auto.offset.reset": "earliest", "error_cb": on_error})
    consumer.subscribe([topic])
    for _ in range(40):
        for m in consumer.consume(num_messages=100, timeout=0.5):
            if m.error() is None:
                values.append(m.value().decode())
        if len(values) >= 50:
            break
    consumer.close()
print(json.dumps({"delivered": len(delivered), "failed": len(failed),
                  "consumed": values == [f"v{i}" for i in range(50)],
                  "errors": sorted({name for name, _ in errors}),
                  "messages": sorted({text for _, text in errors})[:3]}))
