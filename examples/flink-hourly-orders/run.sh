#!/usr/bin/env bash
# Flink SQL hourly order totals per product.
source "$(dirname "$0")/../lib.sh"
EVENTS=${EVENTS:-4000}
SEED=${SEED:-1}
CHUNK=${CHUNK:-500}
HERE="$(cd "$(dirname "$0")" && pwd)"

need_node
reset hourly_order_totals -- orders
strata sql -f "$HERE/views.sql"

say "orders: strata gen orders --events $EVENTS --seed $SEED --rate 0.5"
strata gen orders --events "$EVENTS" --seed "$SEED" --rate 0.5 --format records --out "$WORK/orders.ndjson"
feed orders "$WORK/orders.ndjson" "$CHUNK" hourly_order_totals

say "closed hours (the watermark is past their end), biggest totals first"
strata query hourly_order_totals --order-by total_amount --desc --limit 10
say "the same rows as a continuous query: strata sql -f query.sql --limit 5"
strata sql -f "$HERE/query.sql" --limit 5
