#!/usr/bin/env bash
# Fuzz the parsers that read what a tenant sends (host/tests/fuzz.rs): the
# job file, the JSON field extractor, checkpoint metadata and the API's
# submission body. Each target runs SECONDS (default 60) from its committed
# corpus (host/fuzz/corpus/<target>/); a failing input is saved under
# host/fuzz/crashes/<target>/ and named in the failure. Stable Rust; no
# extra toolchain. WEIR_FUZZ_SEED=N replays a run.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
secs="${1:-60}"
shift || true
started=$(date +%s)
WEIR_FUZZ_SECS="$secs" cargo test --release -p weir --test fuzz -- --nocapture --test-threads 2 "$@"
echo "fuzz: ${secs} s per target, $(($(date +%s) - started)) s in all"
