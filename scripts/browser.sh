#!/usr/bin/env bash
# What the dashboard's browser test (tests/e2e/dashboard.rs) needs:
# Debian's Chromium (installed through apt when missing) and the exact npm
# packages of tests/dashboard/package-lock.json (playwright-core, which
# drives that Chromium; it downloads no browser of its own). Run by
# scripts/test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "browser: installing Debian's chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "browser: Chromium is missing; install it (Debian: sudo apt-get install chromium) or set CHROMIUM to its path" >&2
    exit 1
  fi
fi

cd tests/dashboard
if ! cmp -s package-lock.json node_modules/.weir-installed 2>/dev/null; then
  echo "browser: installing the browser test's npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.weir-installed
fi
