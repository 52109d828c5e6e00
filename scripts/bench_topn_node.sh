#!/bin/bash
# Through-the-node timing of a Nexmark q7 window Top-N view vs a windowed MAX over the same
# bids (docs/benchmarks.md, "Top-N views through the node"). Build first: cargo build --release.
# Usage: scripts/bench_topn_node.sh   (EVENTS=5000000 by default)
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${STRATA_BIN:-$ROOT/target/release/strata}
EVENTS=${EVENTS:-5000000}
D=$(mktemp -d)
$BIN serve --data-dir $D/data --http 127.0.0.1:0 --log warn > $D/serve.out 2>$D/serve.err &
SERVE=$!
trap "kill $SERVE 2>/dev/null; rm -rf $D" EXIT
for i in $(seq 50); do [ -s $D/serve.out ] && break; sleep 0.1; done
URL=$(grep -o 'http://[^ ]*' $D/serve.out | head -1)
export STRATA_SERVER=$URL
$BIN gen nexmark --events $EVENTS --seed 1 --topic nexmark > $D/gen.out
BIDS=$(curl -s $URL/v1/topics/bid | python3 -c 'import json,sys; print(sum(p["end_offset"] for p in json.load(sys.stdin)["partitions"]))')
echo "events $EVENTS bids $BIDS"
$BIN sql "CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, datetime TIMESTAMP, extra VARCHAR) WITH (kafka_topic='bid', value_format='JSON', timestamp='datetime');" > /dev/null
run() { # name sql
  local start=$(date +%s.%N)
  $BIN sql "$2" > /dev/null
  while :; do
    n=$(curl -s $URL/v1/views | python3 -c "import json,sys; v=[x for x in json.load(sys.stdin)['views'] if x['name']=='$1'][0]; s=v['stats']; print(s['records_in'] if s['lag']==0 else -1)")
    [ "$n" -ge "$BIDS" ] 2>/dev/null && break
    sleep 0.05
  done
  local end=$(date +%s.%N)
  python3 -c "d=$end-$start; print('$1', round(d,2), 's', round($BIDS/d/1e6,2), 'M bids/s')"
}
for r in 1 2 3; do
  run q7_$r "CREATE TABLE q7_$r AS SELECT auction, price, bidder, datetime, extra FROM (SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rownum FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(datetime), INTERVAL '10' SECOND))) WHERE rownum <= 1;"
  run max_$r "CREATE TABLE max_$r AS SELECT window_start, MAX(price) AS p FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(datetime), INTERVAL '10' SECOND)) GROUP BY window_start, window_end EMIT FINAL;"
  $BIN sql "DROP TABLE q7_$r; DROP TABLE max_$r;" > /dev/null
done
curl -s $URL/v1/views > /dev/null
