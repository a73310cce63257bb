#!/usr/bin/env bash
# Install what building and testing weir needs, idempotently:
# - the wasm32-wasip2 Rust target (Rust operators compile to it);
# - componentize-py (Python operators are built with it).
# Sourced by demo.sh and test.sh; safe to run again.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust from https://rustup.rs first" >&2
  exit 1
fi

if command -v rustup >/dev/null; then
  if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "setup: adding the wasm32-wasip2 Rust target"
    rustup target add wasm32-wasip2
  fi
else
  echo "setup: rustup not found; make sure your Rust has the wasm32-wasip2 target" >&2
fi

# The rocksdb crate generates its bindings with bindgen, which needs libclang.
if ! ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so' && [ -z "${LIBCLANG_PATH:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing libclang-dev (needed to build RocksDB)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev >/dev/null
  else
    echo "setup: libclang is missing; install it (Debian/Ubuntu: sudo apt-get install libclang-dev) or set LIBCLANG_PATH" >&2
    exit 1
  fi
fi

if [ "$(componentize-py --version 2>/dev/null | awk '{print $2}')" != "$COMPONENTIZE_PY_VERSION" ]; then
  echo "setup: installing componentize-py $COMPONENTIZE_PY_VERSION"
  python3 -m pip install --quiet "componentize-py==$COMPONENTIZE_PY_VERSION" ||
    python3 -m pip install --quiet --break-system-packages "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

# One build directory for every run, so CI and repeated runs reuse the
# (slow: wasmtime) dependency builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weir/target}"

# The dashboard's assets, which the weir binary embeds (scripts/dashboard.sh).
bash "$(dirname "${BASH_SOURCE[0]}")/dashboard.sh"
