#!/usr/bin/env bash
# Joining streams: clicks enriched with profiles from a table topic; some profiles and
# profile updates arrive after the clicks that needed them.
source "$(dirname "$0")/../lib.sh"
EVENTS=${EVENTS:-1000}
SEED=${SEED:-1}
PROFILES=${PROFILES:-160}
HERE="$(cd "$(dirname "$0")" && pwd)"

need_node
reset enriched_clicks clicks_by_tier -- clicks profiles
strata sql -f "$HERE/views.sql"

strata gen profiles --events "$PROFILES" --seed "$SEED" --keys 100 --format records --out "$WORK/profiles.ndjson"
strata gen clickstream --events "$EVENTS" --seed "$SEED" --keys 100 --rate 1 --format records --out "$WORK/clicks.ndjson"
half=$((EVENTS / 2))
head -n 60 "$WORK/profiles.ndjson" >"$WORK/profiles.1"
tail -n +61 "$WORK/profiles.ndjson" >"$WORK/profiles.2"
head -n "$half" "$WORK/clicks.ndjson" >"$WORK/clicks.1"
tail -n +"$((half + 1))" "$WORK/clicks.ndjson" >"$WORK/clicks.2"

say "1. profiles of users u0001..u0060"
feed profiles "$WORK/profiles.1" 1000
say "2. the first $half clicks (users u0061..u0100 have no profile yet)"
feed clicks "$WORK/clicks.1" 1000 enriched_clicks clicks_by_tier
say "3. the other profiles, and updates of tier and city: they arrive late"
feed profiles "$WORK/profiles.2" 1000
say "4. the other clicks"
feed clicks "$WORK/clicks.2" 1000 enriched_clicks clicks_by_tier

say "clicks by tier ('unknown': no profile when the click was processed)"
strata query clicks_by_tier --order-by clicks --desc
strata consume enriched_clicks-changelog >"$WORK/enriched.ndjson"
say "enriched clicks (enriched_clicks-changelog): $(grep -vc '"tier"' "$WORK/enriched.ndjson" || true) had no profile to join; the first 3 of them:"
awk '!/"tier"/ && n < 3 { print; n++ }' "$WORK/enriched.ndjson"
say "and the first 3 with a profile:"
awk '/"tier"/ && n < 3 { print; n++ }' "$WORK/enriched.ndjson"
