"""Produce latency through librdkafka (confluent-kafka), open loop: RATE 100-byte records per
second for SECONDS, sent in a burst at the start of every millisecond (RATE/1000 records),
acks=all, no linger. Between bursts the script blocks in librdkafka's poll (serving delivery
reports as they arrive) instead of spinning: on a 2-core machine a spinning client would take
a core from the node it measures. Latency counts from when a record was sent, or from when it
was due if the loop was more than 2 ms behind schedule (so a stall here is not hidden), to
its acknowledgement, as librdkafka measures it. Prints one JSON line: p50/p99/max in ms, the achieved rate, failures.

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

    def delivered(behind_s):
        # librdkafka times each record from produce() to its acknowledgement
        # (`Message.latency()`), so when this script serves the report does not matter.
        def report(err, msg):
            if err is not None:
                failed[0] += 1
            else:
                latencies.append((msg.latency() + behind_s) * 1e3)
        return report

    # A first record outside the measurement: metadata and the connection are set up here.
    producer.produce(topic, value)
    producer.flush(10)

    per_tick = max(1, rate // 1000)
    ticks = int(seconds * 1000)
    start = time.perf_counter() + 0.05
    late = 0
    for tick in range(ticks):
        due = start + tick / 1000.0
        while True:
            left = due - time.perf_counter()
            if left <= 0:
                break
            # librdkafka's poll counts whole milliseconds; the last one is slept.
            if left > 0.0015:
                producer.poll(left - 0.001)
            else:
                time.sleep(left)
        sent = time.perf_counter()
        behind = sent - due > 0.002
        late += behind
        for _ in range(per_tick):
            producer.produce(topic, value, on_delivery=delivered(sent - due if behind else 0.0))
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
        "late_ticks": late,
    }))


if __name__ == "__main__":
    main()
