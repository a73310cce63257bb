#!/usr/bin/env bash
# A PostgreSQL server on loopback for weir's tests: Debian's `postgresql`
# package (installed through apt if missing), a fresh cluster per `start`,
# trust authentication on 127.0.0.1 only. Nothing is mocked.
#
#   scripts/postgres.sh start    # install (first time), init a fresh cluster, start, wait until ready
#   scripts/postgres.sh stop     # stop it (fast shutdown) and remove its data
#   scripts/postgres.sh status   # running or not, and where
#   scripts/postgres.sh url      # the URL jobs and tests connect to
#
# Environment: WEIR_PG_PORT (default 15432), WEIR_PG_HOME (default
# /var/tmp/weir-postgres-<uid>: the server runs as the `postgres` user when
# this runs as root, and that user cannot enter root's home). To use another
# server for the tests instead, set WEIR_POSTGRES_URL.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${WEIR_PG_PORT:-15432}"
HOME_DIR="${WEIR_PG_HOME:-/var/tmp/weir-postgres-$(id -u)}"
DATA="$HOME_DIR/data-$PORT"
LOG="$HOME_DIR/server-$PORT.log"
URL="postgresql://postgres@127.0.0.1:$PORT/postgres"

die() { echo "postgres.sh: $*" >&2; exit 1; }

bindir() {
  # The newest installed server's programs (initdb and pg_ctl are not on PATH).
  find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1
}

install() {
  [ -n "$(bindir)" ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "postgres.sh: installing postgresql (the tests' PostgreSQL server)"
    apt-get update -qq
    # policy-rc.d keeps the package from starting its own cluster on 5432.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || {
      rm -f /usr/sbin/policy-rc.d
      die "apt-get install postgresql failed (see above)"
    }
    rm -f /usr/sbin/policy-rc.d
  else
    die "PostgreSQL's server programs not found; install them (Debian: sudo apt-get install postgresql)"
  fi
  [ -n "$(bindir)" ] || die "postgresql installed, but no /usr/lib/postgresql/*/bin"
}

# Run as the server's user: `postgres` when root (initdb refuses root).
as_server() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [ -f "$DATA/postmaster.pid" ] && as_server "$(bindir)/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
  if running; then
    echo "postgres.sh: already running at $URL"
    return
  fi
  install
  local bin
  bin="$(bindir)"
  rm -rf "$DATA"
  mkdir -p "$HOME_DIR"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$HOME_DIR"
  fi
  as_server "$bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null ||
    die "initdb failed"
  # fsync off: the tests kill weir, never the server.
  as_server "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
    -o "-p $PORT -h 127.0.0.1 -k $DATA -c fsync=off -c max_connections=200" start >/dev/null ||
    die "the server did not start; its log: $LOG"
  echo "postgres.sh: ready at $URL"
}

stop() {
  if running; then
    as_server "$(bindir)/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null || die "pg_ctl stop failed"
  fi
  rm -rf "$DATA"
  echo "postgres.sh: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    if running; then echo "running at $URL (data $DATA)"; else echo "not running"; exit 1; fi
    ;;
  url) echo "$URL" ;;
  *) die "usage: scripts/postgres.sh start|stop|status|url" ;;
esac
