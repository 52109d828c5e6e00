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

# Debian packages: kcat (librdkafka: the Kafka listener's tests drive it with real clients)
# and fiu-utils (libfiu's fiu-run/fiu-ctrl: the fault tests fail fsyncs of the real binary).
apt_packages=()
command -v kcat >/dev/null || apt_packages+=(kcat)
command -v fiu-run >/dev/null || apt_packages+=(fiu-utils)
if ((${#apt_packages[@]})); then
  echo "installing ${apt_packages[*]}"
  if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ]]; then
    apt-get update -qq
  fi
  apt-get install -y -qq "${apt_packages[@]}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${apt_packages[@]}" >/dev/null; }
fi

# The Kafka listener's tests drive it with real clients: kcat (librdkafka, a Debian package),
# kafka-python (with python-snappy, lz4 and zstandard for its codecs) and confluent-kafka.
kafka_modules=(kafka:kafka-python snappy:python-snappy lz4:lz4 zstandard:zstandard confluent_kafka:confluent-kafka)
missing=()
for entry in "${kafka_modules[@]}"; do
  python3 -c "import ${entry%%:*}" 2>/dev/null || missing+=("${entry#*:}")
done
if ((${#missing[@]})); then
  echo "installing Kafka test clients: ${missing[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${missing[@]}"
fi
python3 -c 'import kafka, confluent_kafka; print("Kafka test clients: kafka-python", kafka.__version__, "confluent-kafka", confluent_kafka.__version__)'
kcat -V | head -n 1

# The examples' tests drive a node with curl and bash.
for tool in curl bash fiu-run fiu-ctrl; do
  command -v "$tool" >/dev/null || { echo "scripts/deps.sh: $tool is required" >&2; exit 1; }
done
