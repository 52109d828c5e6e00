#!/usr/bin/env bash
# Real-time aggregation: sales by category in 5-minute windows, late transactions within
# the grace period update their window.
source "$(dirname "$0")/../lib.sh"
EVENTS=${EVENTS:-3000}
SEED=${SEED:-1}
CHUNK=${CHUNK:-200}
HERE="$(cd "$(dirname "$0")" && pwd)"

need_node
reset sales_by_category -- transactions
strata sql -f "$HERE/views.sql"

say "transactions: strata gen transactions --events $EVENTS --seed $SEED --rate 2 --out-of-order-ms 5000 --late-fraction 0.05"
strata gen transactions --events "$EVENTS" --seed "$SEED" --rate 2 \
  --out-of-order-ms 5000 --late-fraction 0.05 --format records --out "$WORK/transactions.ndjson"
feed transactions "$WORK/transactions.ndjson" "$CHUNK" sales_by_category

say "sales per category, first windows"
strata query sales_by_category --order-by window_start --limit 16
say "late: $(view_stat sales_by_category late) transaction(s) past the grace period (in sales_by_category-late); changelog rows: $(strata consume sales_by_category-changelog | wc -l)"
