#!/usr/bin/env bash
# Anomaly detection: CPU readings far above a host's moving average become alerts, copied
# into the `alerts` topic.
source "$(dirname "$0")/../lib.sh"
EVENTS=${EVENTS:-4000}
SEED=${SEED:-1}
CHUNK=${CHUNK:-500}
HERE="$(cd "$(dirname "$0")" && pwd)"

need_node
reset cpu_baseline cpu_alerts -- metrics alerts
strata sql -f "$HERE/views.sql"
strata topic create alerts >/dev/null

say "metrics: strata gen metrics --events $EVENTS --seed $SEED --rate 1 (8 hosts, one reading each per 8 s)"
strata gen metrics --events "$EVENTS" --seed "$SEED" --rate 1 --format records --out "$WORK/metrics.ndjson"
feed metrics "$WORK/metrics.ndjson" "$CHUNK" cpu_baseline cpu_alerts

say "alerts → topic alerts (strata consume cpu_alerts-changelog | strata produce alerts)"
# Live, this is: strata consume cpu_alerts-changelog --follow | strata produce alerts
strata consume cpu_alerts-changelog >"$WORK/alerts.ndjson"
if [[ -s "$WORK/alerts.ndjson" ]]; then strata produce alerts --file "$WORK/alerts.ndjson"; fi
strata consume alerts
say "alerts by host"
strata query cpu_alerts --order-by window_start
