#!/usr/bin/env bash
# Event-time processing: out-of-order and late sensor readings, watermarks, the late topic.
source "$(dirname "$0")/../lib.sh"
EVENTS=${EVENTS:-3000}
SEED=${SEED:-1}
CHUNK=${CHUNK:-250}
HERE="$(cd "$(dirname "$0")" && pwd)"

need_node
reset readings_per_minute -- readings
strata sql -f "$HERE/views.sql"

say "readings: strata gen sensor --events $EVENTS --seed $SEED --rate 5 --keys 10 --out-of-order-ms 5000 --late-fraction 0.03"
strata gen sensor --events "$EVENTS" --seed "$SEED" --rate 5 --keys 10 \
  --out-of-order-ms 5000 --late-fraction 0.03 --format records --out "$WORK/readings.ndjson"
feed readings "$WORK/readings.ndjson" "$CHUNK" readings_per_minute

say "the view: records in, late, watermark"
strata view describe readings_per_minute
say "late readings (the side output topic readings_per_minute-late; header strata.reason says why)"
echo "$(strata consume readings_per_minute-late | wc -l) late reading(s); the first 3:"
strata consume readings_per_minute-late --output json --max 3
say "the first closed windows of sensor s-001"
strata query readings_per_minute --key s-001 --order-by window_start --limit 5
