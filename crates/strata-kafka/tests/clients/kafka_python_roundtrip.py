"""kafka-python: produce 200 keyed records with headers under each compression, consume them
back from the beginning, and print one JSON line per codec with what came back."""
import json
import sys

from kafka import KafkaConsumer, KafkaProducer

bootstrap = sys.argv[1]
for codec in [None, "gzip", "snappy", "lz4", "zstd"]:
    topic = f"py-{codec or 'none'}"
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, compression_type=codec, linger_ms=5, acks="all"
    )
    futures = [
        producer.send(
            topic,
            key=f"k{i}".encode(),
            value=json.dumps({"i": i, "pad": "x" * (i % 50)}).encode(),
            headers=[("n", str(i).encode()), ("codec", (codec or "none").encode())],
        )
        for i in range(200)
    ]
    producer.flush()
    offsets = [f.get(timeout=10).offset for f in futures]
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    got = []
    for m in consumer:
        got.append(m)
        if len(got) == 200:
            break
    consumer.close()
    ok = all(
        m.key == f"k{i}".encode()
        and json.loads(m.value)["i"] == i
        and m.headers == [("n", str(i).encode()), ("codec", (codec or "none").encode())]
        and m.offset == i
        for i, m in enumerate(got)
    )
    print(json.dumps({"codec": codec or "none", "acked": sorted(offsets) == list(range(200)),
                      "consumed": len(got), "intact": ok}))
