#!/usr/bin/env bash
# Run the main job end to end on the embedded default: word count over the
# bundled example data, with its Rust operator built from source.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

cargo build --release -p weir
weir="$CARGO_TARGET_DIR/release/weir"

"$weir" run examples/wordcount/job.toml

echo
echo "== examples/wordcount/out/counts.jsonl (first 10 of $(wc -l < examples/wordcount/out/counts.jsonl)) =="
head -n 10 examples/wordcount/out/counts.jsonl
echo "== late records: examples/wordcount/out/late.jsonl =="
cat examples/wordcount/out/late.jsonl
echo "== dead letters: examples/wordcount/out/dead-letters.jsonl =="
cat examples/wordcount/out/dead-letters.jsonl
