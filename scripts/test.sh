#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every workspace test, then the loom
# models of the concurrency protocols (in their own target dir, since --cfg loom
# rebuilds everything).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# tests/kafka_bad_input.rs opens 1100 sockets against the node: raise the soft limit on open
# files where it is lower (up to the hard limit; no privilege needed).
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
  ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
fi

step "test dependencies (scripts/deps.sh)"
scripts/deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
cargo test --workspace

step "loom models (strata-log: publication; strata-engine: the speed → batch hand-off)"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
  cargo test -p strata-log -p strata-engine --release --test 'loom_*'

printf '\nall checks passed\n'
