"""Produce latency through librdkafka (confluent-kafka), open loop: one 100-byte record every
1/rate seconds for `seconds`, acks=all, no linger; latency counts from when each record was
due (so a stall in this loop is not hidden) to its delivery report. Prints one JSON line:
p50/p99/max in ms, the achieved rate and the count of failed deliveries.

Usage: latency.py BOOTSTRAP TOPIC RATE SECONDS
"""

import json
import sys
import time

from confluent_kafka import Producer


def main():
    bootstrap, topic, rate, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 0,
        "enable.idempotence": False,
    })
    value = b"x" * 100
    latencies = []
    failed = [0]

    def delivered(due):
        def report(err, _msg):
            if err is not None:
                failed[0] += 1
            else:
                latencies.append((time.perf_counter() - due) * 1e3)
        return report

    # A first record outside the measurement: metadata and the connection are set up here.
    producer.produce(topic, value)
    producer.flush(10)

    interval = 1.0 / rate
    start = time.perf_counter() + 0.05
    n = int(rate * seconds)
    for i in range(n):
        due = start + i * interval
        while True:
            now = time.perf_counter()
            if now >= due:
                break
            # Serve delivery reports while waiting, so they are timed when they arrive.
            producer.poll(0)
        producer.produce(topic, value, on_delivery=delivered(due))
        producer.poll(0)
    producer.flush(30)
    elapsed = time.perf_counter() - start
    latencies.sort()

    def at(q):
        return latencies[min(int(len(latencies) * q), len(latencies) - 1)] if latencies else 0.0

    print(json.dumps({
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "max_ms": latencies[-1] if latencies else 0.0,
        "delivered": len(latencies),
        "failed": failed[0],
        "achieved_rate": len(latencies) / elapsed,
    }))


if __name__ == "__main__":
    main()
