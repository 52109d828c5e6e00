#!/usr/bin/env python3
"""The flatMap of the word count: reads records of the `lines` topic as `strata consume
lines --output json` prints them, and writes one record per word, for `strata produce words
--format records`, keeping the line's timestamp. Words are the runs of letters and digits,
lower-cased (the tests' oracle tokenizes the same way)."""
import json
import re
import sys

WORD = re.compile(r"[a-z0-9]+")

for raw in sys.stdin:
    raw = raw.strip()
    if not raw:
        continue
    rec = json.loads(raw)
    text = rec.get("value_text")
    if text is None:  # a line that happens to be JSON (e.g. `42`) comes back as a value
        value = rec.get("value")
        text = value if isinstance(value, str) else json.dumps(value)
    for word in WORD.findall(text.lower()):
        print(json.dumps({"value": {"word": word}, "timestamp": rec["timestamp"]}), flush=True)
