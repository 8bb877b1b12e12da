#!/usr/bin/env bash
# devdb.sh start|stop|url: a private PostgreSQL for this checkout under .data/postgres.
# It uses the machine's PostgreSQL binaries and installs them with apt-get when they are missing
# and we are root. As root, initdb and the server run as the `postgres` user. The last line of
# `start` is DATABASE_URL=... . Durable settings (fsync on) unless DEVDB_FAST=1.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dir="$root/.data/postgres"
port="${DEVDB_PORT:-55432}"
url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"

find_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

install_pg() {
  if [ "$(id -u)" != 0 ]; then
    echo "devdb: PostgreSQL binaries not found under /usr/lib/postgresql and we are not root; install the 'postgresql' package" >&2
    exit 1
  fi
  echo "devdb: installing PostgreSQL with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
}

running() {
  [ -n "${PGBIN:-}" ] && [ -f "$dir/data/postmaster.pid" ] && as_owner "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

start() {
  PGBIN=$(find_bin)
  if [ -z "$PGBIN" ]; then
    install_pg
    PGBIN=$(find_bin)
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    chown postgres:postgres "$dir"
    chmod 700 "$dir"
    # runuser needs every parent directory to be traversable by postgres.
    p="$dir"; while [ "$p" != / ]; do p=$(dirname "$p"); chmod o+x "$p" 2>/dev/null || true; done
  fi
  if running; then
    echo "devdb: already running on port $port" >&2
  else
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    extra=""
    if [ "${DEVDB_FAST:-0}" = 1 ]; then
      extra="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 120 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=512MB $extra" start >&2 \
      || { tail -20 "$dir/log" >&2; exit 1; }
  fi
  echo "DATABASE_URL=$url"
}

stop() {
  PGBIN=$(find_bin)
  if running; then
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >&2
  else
    echo "devdb: not running" >&2
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  url) echo "$url" ;;
  *) echo "usage: devdb.sh start|stop|url" >&2; exit 2 ;;
esac
