"""Two confluent-kafka consumers in one group split a 4-partition topic; once they have,
400 records are produced (100 per partition), both read and commit their share; then one
leaves and the other is assigned every partition. Prints one JSON object."""
import json
import sys
import time

from confluent_kafka import Consumer, Producer

bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]


def consumer(name):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 10000, "heartbeat.interval.ms": 500,
                  "partition.assignment.strategy": "range"})
    c.subscribe([topic])
    return c


a, b = consumer("a"), consumer("b")
seen = {"a": [], "b": []}
deadline = time.time() + 60
split = None
produced = False
while time.time() < deadline:
    for name, c in (("a", a), ("b", b)):
        for m in c.consume(num_messages=100, timeout=0.1):
            if m.error() is None:
                seen[name].append((m.partition(), m.offset()))
    pa = sorted(p.partition for p in a.assignment())
    pb = sorted(p.partition for p in b.assignment())
    if not produced and pa and pb and len(pa) + len(pb) == 4:
        split = {"a": pa, "b": pb}
        producer = Producer({"bootstrap.servers": bootstrap})
        for i in range(400):
            producer.produce(topic, value=f"r{i}", partition=i % 4)
        producer.flush(10)
        produced = True
    if produced and len(seen["a"]) + len(seen["b"]) >= 400:
        break
for c in (a, b):
    c.commit(asynchronous=False)
a.close()  # LeaveGroup: b must get everything
alone = None
deadline = time.time() + 60
while time.time() < deadline:
    b.consume(num_messages=100, timeout=0.2)
    pb = sorted(p.partition for p in b.assignment())
    if len(pb) == 4:
        alone = pb
        break
b.close()
print(json.dumps({"split": split, "alone": alone,
                  "read_a": len(seen["a"]), "read_b": len(seen["b"]),
                  "distinct": len(set(seen["a"]) | set(seen["b"]))}))
