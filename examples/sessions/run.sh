#!/usr/bin/env bash
# Session analysis: sessions closed by 30 minutes of inactivity; pages and duration.
source "$(dirname "$0")/../lib.sh"
EVENTS=${EVENTS:-2000}
SEED=${SEED:-1}
CHUNK=${CHUNK:-250}
HERE="$(cd "$(dirname "$0")" && pwd)"

need_node
reset user_sessions -- clickstream
strata sql -f "$HERE/views.sql"

say "clicks: strata gen clickstream --events $EVENTS --seed $SEED --rate 0.1 --out-of-order-ms 3000"
strata gen clickstream --events "$EVENTS" --seed "$SEED" --rate 0.1 --out-of-order-ms 3000 \
  --format records --out "$WORK/clickstream.ndjson"
feed clickstream "$WORK/clickstream.ndjson" "$CHUNK" user_sessions

say "sessions of user u0001"
strata query user_sessions --key u0001 --order-by window_start
say "the 5 longest sessions"
strata query user_sessions --top 5 --by duration_s
