#!/usr/bin/env bash
# Regenerates the samples in this directory (tests/examples_data.rs checks that they are
# exactly what `strata gen` makes from these commands).
set -euo pipefail
cd "$(dirname "$0")"
STRATA=${STRATA:-../target/debug/strata}
"$STRATA" gen clickstream  --events 500 --seed 42 --rate 0.1 --out clickstream.ndjson
"$STRATA" gen transactions --events 500 --seed 42 --rate 1 --out transactions.ndjson
"$STRATA" gen metrics      --events 400 --seed 42 --rate 1 --out metrics.ndjson
"$STRATA" gen text         --events 100 --seed 42 --rate 2 --out text.txt
"$STRATA" gen profiles     --events 150 --seed 42 --out profiles.ndjson
"$STRATA" gen sensor       --events 400 --seed 42 --rate 5 --keys 10 --out-of-order-ms 5000 --late-fraction 0.03 --out sensor.ndjson
"$STRATA" gen pageviews    --events 300 --seed 42 --rate 5 --out pageviews.ndjson
"$STRATA" gen orders       --events 300 --seed 42 --rate 0.5 --out orders.ndjson
