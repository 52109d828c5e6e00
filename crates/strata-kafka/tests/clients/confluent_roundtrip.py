"""confluent-kafka (librdkafka): produce 300 records under each compression with acks=all,
consume them back, and print one JSON line per codec."""
import json
import sys

from confluent_kafka import Consumer, Producer

bootstrap = sys.argv[1]
for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
    topic = f"ck-{codec}"
    producer = Producer({"bootstrap.servers": bootstrap, "compression.type": codec,
                         "linger.ms": 5, "acks": "all"})
    errors = []
    delivered = []

    def report(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered.append(msg.offset())

    for i in range(300):
        producer.produce(topic, key=f"k{i}", value=f"value {i} " + "y" * (i % 40),
                         headers=[("i", str(i))], on_delivery=report)
    producer.flush(10)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ck-{codec}-reader",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got = []
    for _ in range(100):
        for m in consumer.consume(num_messages=500, timeout=0.5):
            if m.error() is None:
                got.append(m)
        if len(got) >= 300:
            break
    consumer.commit(asynchronous=False)
    consumer.close()
    intact = all(
        m.key() == f"k{i}".encode()
        and m.value() == (f"value {i} " + "y" * (i % 40)).encode()
        and m.headers() == [("i", str(i).encode())]
        and m.offset() == i
        for i, m in enumerate(got)
    )
    print(json.dumps({"codec": codec, "errors": errors, "delivered": len(delivered),
                      "consumed": len(got), "intact": intact}))
