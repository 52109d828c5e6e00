#!/usr/bin/env bash
# ksqlDB page-view counts per page per minute.
source "$(dirname "$0")/../lib.sh"
EVENTS=${EVENTS:-3000}
SEED=${SEED:-1}
CHUNK=${CHUNK:-500}
HERE="$(cd "$(dirname "$0")" && pwd)"

need_node
reset page_view_counts -- page_views
strata sql -f "$HERE/views.sql"

say "page views: strata gen pageviews --events $EVENTS --seed $SEED --rate 5"
strata gen pageviews --events "$EVENTS" --seed "$SEED" --rate 5 --format records --out "$WORK/page_views.ndjson"
feed page_views "$WORK/page_views.ndjson" "$CHUNK" page_view_counts

say "the top pages of the first minute"
strata query page_view_counts --from 2024-05-01T00:00:00Z --to 2024-05-01T00:01:00Z --top 5 --by view_count
say "curl $STRATA_SERVER/v1/views/page_view_counts?key=Page_1"
curl -s "$STRATA_SERVER/v1/views/page_view_counts?key=Page_1&limit=3"; echo
