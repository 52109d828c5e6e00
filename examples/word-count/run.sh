#!/usr/bin/env bash
# Word count over lines of text.
#   run.sh              generated text (strata gen text), then print the counts
#   run.sh --stdin      lines from stdin:      cat book.txt | run.sh --stdin
#   run.sh --listen     lines from TCP clients on 127.0.0.1:9999 (nc 127.0.0.1 9999), until Ctrl-C
source "$(dirname "$0")/../lib.sh"
EVENTS=${EVENTS:-300}
SEED=${SEED:-1}
HERE="$(cd "$(dirname "$0")" && pwd)"
MODE=${1:-gen}
PORT=${PORT:-9999}

need_node
reset word_counts word_counts_tumbling word_counts_sliding -- words lines
strata topic create lines >/dev/null
strata sql -f "$HERE/views.sql"

tokenize() { python3 -u "$HERE/tokenize.py"; }

case "$MODE" in
  gen)
    say "lines: strata gen text --events $EVENTS --seed $SEED"
    strata gen text --events "$EVENTS" --seed "$SEED" --rate 2 --format records --out "$WORK/lines.ndjson"
    strata produce lines --format records --file "$WORK/lines.ndjson"
    ;;
  --stdin)
    strata produce lines --format lines
    ;;
  --listen)
    say "type lines into: nc 127.0.0.1 $PORT   (Ctrl-C here to stop)"
    strata consume lines --follow --output json | tokenize | strata produce words --format records --linger 100ms &
    trap 'kill $(jobs -p) 2>/dev/null; exit 0' INT TERM
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

say "tokenize: strata consume lines | tokenize.py | strata produce words"
strata consume lines --output json | tokenize >"$WORK/words.ndjson"
feed words "$WORK/words.ndjson" 1000 word_counts word_counts_tumbling word_counts_sliding

say "the 10 most frequent words"
strata query word_counts --top 10 --by n
say "the first tumbling windows (10 s)"
strata query word_counts_tumbling --order-by window_start --limit 10
say "the first sliding windows (30 s every 10 s)"
strata query word_counts_sliding --order-by window_start --limit 10
