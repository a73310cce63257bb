#!/usr/bin/env bash
# Build the dashboard `weir serve` serves at / (dashboard/, Preact + Vite,
# typed with TypeScript) into dashboard/dist, which host/build.rs puts into
# the weir binary. Installs the exact npm packages of
# dashboard/package-lock.json first (npm ci), and Node.js itself through apt
# when it is missing. Sourced setup (scripts/setup.sh) runs it; safe to run
# again: it rebuilds only when a source changed.
set -euo pipefail
cd "$(dirname "$0")/../dashboard"

if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "dashboard: installing Node.js and npm"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "dashboard: npm is missing; install Node.js 20 or later (Debian: sudo apt-get install nodejs npm)" >&2
    exit 1
  fi
fi

# npm ci when the installed packages are not the locked ones.
if ! cmp -s package-lock.json node_modules/.weir-installed 2>/dev/null; then
  echo "dashboard: installing its npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.weir-installed
fi

newest_source=$(find src index.html vite.config.ts tsconfig.json package-lock.json -type f -newer dist/index.html 2>/dev/null | head -1 || true)
if [ ! -f dist/index.html ] || [ -n "$newest_source" ]; then
  echo "dashboard: building dashboard/dist"
  npm run --silent build >/dev/null
fi
