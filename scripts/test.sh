#!/usr/bin/env bash
# Run every test: unit and doc tests of the host and the guest SDK, and the
# end-to-end tests, which build real components (Rust and Python) from source
# and run real jobs through the weir binary, some against a real Apache Kafka
# broker and a real PostgreSQL server that this script starts (and stops),
# and the dashboard's in a real (headless) Chromium,
# then fuzzes the parsers that read tenant input for a minute each. Installs
# what it needs first. WEIR_KAFKA_BROKERS=host:port uses another Kafka
# cluster instead, WEIR_POSTGRES_URL another PostgreSQL server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "== build: weir"
cargo build --release -p weir
export WEIR_BIN="$CARGO_TARGET_DIR/release/weir"

echo "== build: every Rust operator, once (the tests' builds are then no-ops)"
guests=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print(" ".join("-p " + p["name"] for p in json.load(sys.stdin)["packages"] if any("cdylib" in t["crate_types"] for t in p["targets"])))')
# The profile `weir build` uses (GUEST_PROFILE in host/src/build.rs), so
# its builds find these artifacts fresh.
guest_profile=(CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_DEBUG=false)
# shellcheck disable=SC2086
env "${guest_profile[@]}" cargo build --release --target wasm32-wasip2 $guests

echo "== lint: rustfmt and clippy (host, SDK, tests, and operators for wasm32-wasip2)"
cargo fmt --all -- --check
cargo clippy --release -p weir -p weir-guest -p weir-guest-macros -p weir-e2e --all-targets -- -D warnings
# shellcheck disable=SC2086
env "${guest_profile[@]}" cargo clippy --release --target wasm32-wasip2 $guests -- -D warnings

echo "== Kafka: a real single-node Apache Kafka broker for the Kafka tests (scripts/kafka.sh)"
stops=()
if [ -z "${WEIR_KAFKA_BROKERS:-}" ]; then
  bash scripts/kafka.sh start
  stops+=("bash scripts/kafka.sh stop")
fi

echo "== PostgreSQL: a real server for the PostgreSQL sink's tests (scripts/postgres.sh)"
if [ -z "${WEIR_POSTGRES_URL:-}" ]; then
  bash scripts/postgres.sh start
  stops+=("bash scripts/postgres.sh stop")
fi
stop_services() { for s in "${stops[@]}"; do $s || true; done; }

echo "== browser: Debian's Chromium and playwright-core for the dashboard's test (scripts/browser.sh)"
bash scripts/browser.sh
trap stop_services EXIT

echo "== tests"
# The fuzz targets run briefly here (2 s each) and for a minute each below.
cargo test --release -p weir -p weir-guest -p weir-e2e

echo "== fuzz: every target for ${WEIR_FUZZ_SECS:-60} s (scripts/fuzz.sh)"
bash scripts/fuzz.sh "${WEIR_FUZZ_SECS:-60}"
