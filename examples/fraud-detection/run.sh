#!/usr/bin/env bash
# Fraud detection: the same card in different cities within minutes.
source "$(dirname "$0")/../lib.sh"
EVENTS=${EVENTS:-3000}
SEED=${SEED:-1}
CHUNK=${CHUNK:-500}
HERE="$(cd "$(dirname "$0")" && pwd)"

need_node
reset card_alerts -- payments
strata sql -f "$HERE/views.sql"

say "payments: strata gen transactions --events $EVENTS --seed $SEED --rate 1"
strata gen transactions --events "$EVENTS" --seed "$SEED" --rate 1 --format records --out "$WORK/payments.ndjson"
feed payments "$WORK/payments.ndjson" "$CHUNK" card_alerts

say "flagged cards (one row per window in which the card was in 2+ cities)"
strata query card_alerts --order-by window_start
