# Helpers shared by the examples' run.sh scripts (sourced, not run).
#
# Environment:
#   STRATA         the strata binary (default: `strata` on PATH, else target/release/strata,
#                  else target/debug/strata of this checkout)
#   STRATA_SERVER  the node (default http://127.0.0.1:8080; start one with `strata serve`)
#   EVENTS, SEED   size and seed of the generated input (each example has its defaults)
#   CHUNK          events per produce request; the script waits for the views after each
#   WORK           scratch directory (default: a fresh temporary one)

set -euo pipefail

EXAMPLES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$EXAMPLES_DIR")"
if [[ -z "${STRATA:-}" ]]; then
  if command -v strata >/dev/null 2>&1; then
    STRATA=strata
  elif [[ -x "$REPO_DIR/target/release/strata" ]]; then
    STRATA="$REPO_DIR/target/release/strata"
  elif [[ -x "$REPO_DIR/target/debug/strata" ]]; then
    STRATA="$REPO_DIR/target/debug/strata"
  else
    echo "error: no strata binary; run \`cargo build --release\` or set STRATA=/path/to/strata" >&2
    exit 1
  fi
fi
export STRATA
export STRATA_SERVER="${STRATA_SERVER:-http://127.0.0.1:8080}"
WORK="${WORK:-$(mktemp -d)}"
mkdir -p "$WORK"

strata() { "$STRATA" "$@"; }

say() { printf '\n== %s\n' "$*"; }

# Fails early with a hint when no node answers.
need_node() {
  if ! curl -sf "$STRATA_SERVER/health" >/dev/null; then
    echo "error: no strata node at $STRATA_SERVER; start one with \`strata serve\` (or set STRATA_SERVER)" >&2
    exit 1
  fi
}

# reset VIEW... -- TOPIC...: drops the views and deletes the topics (and their stream
# definitions) of an earlier run, so the example starts from nothing.
reset() {
  local views=() topics=() seen=0
  for a in "$@"; do
    if [[ "$a" == "--" ]]; then seen=1; elif ((seen)); then topics+=("$a"); else views+=("$a"); fi
  done
  for v in "${views[@]}"; do strata view drop "$v" >/dev/null 2>&1 || true; done
  for t in "${topics[@]}"; do
    strata sql "DROP STREAM IF EXISTS $t" >/dev/null 2>&1 || true
    strata sql "DROP TABLE IF EXISTS $t" >/dev/null 2>&1 || true
    strata topic delete "$t" >/dev/null 2>&1 || true
  done
}

# view_stat VIEW FIELD: one numeric field of the view's stats (records_in, late, lag, ...).
view_stat() {
  strata view describe "$1" --output json | tr -d ' \n' | grep -o "\"$2\":[0-9-]*" | head -1 | cut -d: -f2
}

# wait_views N VIEW...: waits until each view has read N source records and has no lag.
wait_views() {
  local n=$1
  shift
  for v in "$@"; do
    local tries=0
    until [[ "$(view_stat "$v" records_in)" -ge "$n" && "$(view_stat "$v" lag)" == 0 ]]; do
      tries=$((tries + 1))
      if ((tries > 600)); then
        echo "error: view $v did not catch up to $n records in 60 s" >&2
        strata view describe "$v" >&2
        exit 1
      fi
      sleep 0.1
    done
  done
}

# feed TOPIC FILE CHUNK VIEW...: produces FILE (record objects, one per line) to TOPIC in
# requests of CHUNK records, and after each waits until the views have processed it. Each
# request is one micro-batch of the views, so watermarks advance chunk by chunk — the same
# way on every run. FED holds the number of records fed to TOPIC so far.
declare -A FED
feed() {
  local topic=$1 file=$2 chunk=$3
  shift 3
  local dir
  dir=$(mktemp -d "$WORK/chunks.XXXX")
  split -l "$chunk" -a 4 "$file" "$dir/c."
  for c in "$dir"/c.*; do
    strata produce "$topic" --format records --file "$c" --batch-size "$chunk" --output json >/dev/null
    FED[$topic]=$(( ${FED[$topic]:-0} + $(wc -l <"$c") ))
    if (($# > 0)); then wait_views "${FED[$topic]}" "$@"; fi
  done
  rm -rf "$dir"
}
