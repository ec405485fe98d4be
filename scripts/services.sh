#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis on loopback for the test suite and benchmarks (not for production).
#   scripts/services.sh start   start both if not running; prints the `export` lines to eval
#   scripts/services.sh stop    stop both
# Data lives under $CM_SERVICES_DIR (default /tmp/chartmigrate-services-$UID); the PostgreSQL
# cluster trades durability for speed (fsync off): it holds only test databases.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${CM_SERVICES_DIR:-/tmp/chartmigrate-services-$(id -u)}
PG_PORT=${CM_PG_PORT:-54329}
REDIS_PORT=${CM_REDIS_PORT:-63790}
PG_USER=chartmigrate

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  echo "PostgreSQL server binaries not found (apt package postgresql)" >&2
  exit 1
}

# initdb refuses to run as root: as root the cluster belongs to the Debian package's postgres user.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_pg() {
  local bin data log
  bin=$(pg_bin)
  data="$DIR/pg"
  log="$DIR/pg.log"
  mkdir -p "$DIR"
  chmod 755 "$DIR"
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$data"
    as_owner "$bin/initdb" -D "$data" -A trust -U "$PG_USER" -E UTF8 >/dev/null
  fi
  if ! as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    touch "$log"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$log"
    as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start -o \
      "-p $PG_PORT -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
       -c synchronous_commit=off -c max_connections=300" >/dev/null
  fi
}

start_redis() {
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then return; fi
  mkdir -p "$DIR/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
    --dir "$DIR/redis" --logfile "$DIR/redis.log" --pidfile "$DIR/redis.pid" >/dev/null
  for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "redis-server did not start; see $DIR/redis.log" >&2
  exit 1
}

case "${1:-start}" in
  start)
    start_pg
    start_redis
    echo "export CM_TEST_PG_URL=postgresql+psycopg://$PG_USER@127.0.0.1:$PG_PORT/postgres"
    echo "export CM_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
    ;;
  stop)
    bin=$(pg_bin)
    as_owner "$bin/pg_ctl" -D "$DIR/pg" -m fast stop >/dev/null 2>&1 || true
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
