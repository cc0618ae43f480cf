#!/usr/bin/env bash
# Start a private PostgreSQL and Redis for the test suite, on loopback only.
#
#   eval "$(bash .ci/services.sh)"      # exports LAKSA_TEST_POSTGRES_URL, LAKSA_TEST_REDIS_URL
#
# stdout carries only `export NAME=value` lines; every message goes to stderr.
# Idempotent: a server already answering on its port is reused, an existing data directory is
# restarted rather than re-created. Needs no init system. Installs the Debian packages only when
# the binaries are missing (needs root for that).
#
# Knobs (environment):
#   LAKSA_CI_STATE        state folder (default: ${TMPDIR:-/tmp}/laksa-ci)
#   LAKSA_CI_PG_PORT      default 55432
#   LAKSA_CI_REDIS_PORT   default 56379
#   LAKSA_BROWSER_TESTS=1 also make sure Debian's chromium is installed
set -euo pipefail

STATE=${LAKSA_CI_STATE:-${TMPDIR:-/tmp}/laksa-ci}
PG_PORT=${LAKSA_CI_PG_PORT:-55432}
REDIS_PORT=${LAKSA_CI_REDIS_PORT:-56379}
PG_DB=laksa_test
PG_DATA=$STATE/pg

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null || die "missing $*, and no apt-get to install it"
    [ "$(id -u)" = 0 ] || die "missing $*; install as root: apt-get install $*"
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        apt-get update -qq >&2
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

pg_bindir() {
    # newest installed major version
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
        echo "$d"
    fi
}

# --- packages (only when missing) -----------------------------------------------------------
missing=()
[ -n "$(pg_bindir)" ] || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ "${LAKSA_BROWSER_TESTS:-0}" = 1 ] && ! command -v chromium >/dev/null; then
    missing+=(chromium fonts-dejavu-core)
fi
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
fi
PG_BIN=$(pg_bindir)
[ -n "$PG_BIN" ] || die "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin"

# PostgreSQL refuses to run as root: when root, run it as the `postgres` system user.
if [ "$(id -u)" = 0 ]; then
    PG_OWNER=postgres
    id "$PG_OWNER" >/dev/null 2>&1 || die "no 'postgres' user (is the postgresql package installed?)"
    as_pg() { runuser -u "$PG_OWNER" -- "$@"; }
else
    PG_OWNER=$(id -un)
    as_pg() { "$@"; }
fi

mkdir -p "$STATE"
chmod 755 "$STATE"

# --- PostgreSQL -------------------------------------------------------------------------------
pg_up() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 1 >/dev/null 2>&1; }

if pg_up; then
    log "PostgreSQL already running on 127.0.0.1:$PG_PORT, reusing it"
else
    if [ ! -s "$PG_DATA/PG_VERSION" ]; then
        log "initdb $PG_DATA ($("$PG_BIN/postgres" --version))"
        rm -rf "$PG_DATA"
        mkdir -p "$PG_DATA"
        chown "$PG_OWNER" "$PG_DATA"
        chmod 700 "$PG_DATA"
        as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$STATE/initdb.log" 2>&1 \
            || { cat "$STATE/initdb.log" >&2; die "initdb failed"; }
        # Throwaway test cluster: loopback only, own socket dir, durability off for speed.
        cat >>"$PG_DATA/postgresql.conf" <<EOF

# --- laksa test cluster (.ci/services.sh) ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DATA'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
EOF
    fi
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT (log: $STATE/postgres.log)"
    touch "$STATE/postgres.log"
    chown "$PG_OWNER" "$STATE/postgres.log"
    # pg_ctl removes a stale postmaster.pid by itself; -w waits until connections are accepted.
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$STATE/postgres.log" -w -t 60 start >&2 \
        || { tail -n 30 "$STATE/postgres.log" >&2; die "PostgreSQL did not start"; }
fi

psql_q() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
if [ "$(psql_q -d postgres -tAc "select 1 from pg_database where datname = '$PG_DB'")" != 1 ]; then
    log "creating database $PG_DB"
    psql_q -d postgres -c "create database $PG_DB" >&2
fi

# --- Redis ------------------------------------------------------------------------------------
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

if redis_up; then
    log "Redis already running on 127.0.0.1:$REDIS_PORT, reusing it"
else
    log "starting Redis on 127.0.0.1:$REDIS_PORT (log: $STATE/redis.log)"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
        --save '' --appendonly no --dir "$STATE" \
        --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log" >&2
    for _ in $(seq 1 50); do
        redis_up && break
        sleep 0.2
    done
    redis_up || { tail -n 30 "$STATE/redis.log" >&2; die "Redis did not start"; }
fi

stop_pg="$PG_BIN/pg_ctl -D $PG_DATA stop"
[ "$(id -u)" = 0 ] && stop_pg="runuser -u $PG_OWNER -- $stop_pg"
log "ready; to stop: $stop_pg; redis-cli -p $REDIS_PORT shutdown nosave"
echo "export LAKSA_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/$PG_DB"
echo "export LAKSA_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
