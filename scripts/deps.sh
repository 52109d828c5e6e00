#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust, idempotently: a second run does nothing.
# scripts/test.sh calls it first, so the README's test command works on a fresh machine;
# `STRATA_SKIP_DEPS=1` skips it (offline machines that already have everything).
set -euo pipefail

if [[ "${STRATA_SKIP_DEPS:-0}" == 1 ]]; then
  exit 0
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true

# DuckDB and pyarrow are the independent oracles of the batch and serving layers' tests.
python_modules=(duckdb pyarrow)
missing=()
for m in "${python_modules[@]}"; do
  python3 -c "import $m" 2>/dev/null || missing+=("$m")
done
if ((${#missing[@]})); then
  echo "installing Python test oracles: ${missing[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${missing[@]}"
fi
python3 -c 'import duckdb, pyarrow; print("test oracles: duckdb", duckdb.__version__, "pyarrow", pyarrow.__version__)'

# The examples' tests drive a node with curl and bash.
for tool in curl bash; do
  command -v "$tool" >/dev/null || { echo "scripts/deps.sh: $tool is required" >&2; exit 1; }
done
