#!/usr/bin/env bash
# Word count over lines of text.
#   run.sh              generated text (strata gen text), then print the counts
#   run.sh --stdin      lines from stdin:      cat book.txt | run.sh --stdin
#   run.sh --listen     lines from TCP clients on 127.0.0.1:9999 (nc 127.0.0.1 9999), until Ctrl-C
# The words are counted by SQL alone (views.sql): the lines topic holds plain text.
source "$(dirname "$0")/../lib.sh"
EVENTS=${EVENTS:-300}
SEED=${SEED:-1}
HERE="$(cd "$(dirname "$0")" && pwd)"
MODE=${1:-gen}
PORT=${PORT:-9999}

need_node
VIEWS=(word_counts word_counts_tumbling word_counts_sliding)
reset "${VIEWS[@]}" -- lines
strata topic create lines >/dev/null
strata sql -f "$HERE/views.sql"

case "$MODE" in
  gen)
    say "lines: strata gen text --events $EVENTS --seed $SEED"
    strata gen text --events "$EVENTS" --seed "$SEED" --rate 2 --format records --out "$WORK/lines.ndjson"
    feed lines "$WORK/lines.ndjson" 1000 "${VIEWS[@]}"
    ;;
  --stdin)
    strata produce lines --format lines --output json >"$WORK/produced.json"
    wait_views "$(tr -d ' \n' <"$WORK/produced.json" | grep -o '"records":[0-9]*' | head -1 | cut -d: -f2)" "${VIEWS[@]}"
    ;;
  --listen)
    say "type lines into: nc 127.0.0.1 $PORT   (Ctrl-C here to stop)"
    trap 'exit 0' INT TERM
    say "meanwhile, from another terminal:"
    echo "  $STRATA query word_counts --top 10 --by n"
    echo "  $STRATA query word_counts_tumbling --from -1m"
    echo "  curl -N $STRATA_SERVER/v1/views/word_counts/changes"
    strata produce lines --format lines --listen "127.0.0.1:$PORT"
    exit 0
    ;;
  *)
    echo "usage: run.sh [--stdin | --listen]" >&2
    exit 2
    ;;
esac

say "the 10 most frequent words"
strata query word_counts --top 10 --by n
say "the first tumbling windows (10 s)"
strata query word_counts_tumbling --order-by window_start --limit 10
say "the first sliding windows (30 s every 10 s)"
strata query word_counts_sliding --order-by window_start --limit 10
