"""kafka-python: two consumers (one thread each) in one group split a 4-partition topic and
commit; the first closes (LeaveGroup) and the second ends up with every partition. A thread's
unexpected exception is reported in the summary's "errors" rather than lost on stderr."""
import json
import sys
import threading
import time

from kafka import KafkaConsumer
from kafka.errors import CommitFailedError, RebalanceInProgressError

bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
stop = {"a": threading.Event(), "b": threading.Event()}
state = {"a": {"read": set(), "parts": []}, "b": {"read": set(), "parts": []}}
errors = {}


def consume(name):
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, client_id=name,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      session_timeout_ms=10000, heartbeat_interval_ms=500)
    while not stop[name].is_set():
        for records in c.poll(timeout_ms=100).values():
            for m in records:
                state[name]["read"].add((m.partition, m.offset))
        state[name]["parts"] = sorted(tp.partition for tp in c.assignment())
        if state[name]["read"]:
            try:
                c.commit()
            except (RebalanceInProgressError, CommitFailedError):
                # A poll that ends while the group rebalances (the other consumer came or
                # left) leaves this one rejoining: kafka-python refuses the commit, and the
                # next polls finish the rejoin, as its docs say to do.
                pass
    c.close()


def run(name):
    try:
        consume(name)
    except Exception as e:  # reported in the summary: the test shows why a consumer stopped
        errors[name] = repr(e)


threads = {n: threading.Thread(target=run, args=(n,)) for n in ("a", "b")}
for t in threads.values():
    t.start()
split = None
deadline = time.time() + 60
while time.time() < deadline:
    pa, pb = state["a"]["parts"], state["b"]["parts"]
    total = len(state["a"]["read"] | state["b"]["read"])
    if pa and pb and not set(pa) & set(pb) and len(pa) + len(pb) == 4 and total >= 400:
        split = {"a": pa, "b": pb}
        break
    time.sleep(0.1)
stop["a"].set()
threads["a"].join()
alone = None
deadline = time.time() + 60
while time.time() < deadline:
    if len(state["b"]["parts"]) == 4:
        alone = state["b"]["parts"]
        break
    time.sleep(0.1)
stop["b"].set()
threads["b"].join()
print(json.dumps({"split": split, "alone": alone,
                  "distinct": len(state["a"]["read"] | state["b"]["read"]), "errors": errors}))
