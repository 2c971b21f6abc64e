#!/usr/bin/env bash
# Brings up the databases the tests use, and leaves healthy ones alone (idempotent):
#   PostgreSQL primary   127.0.0.1:5432  (Debian cluster <version>/main, trust auth)
#   streaming replica    127.0.0.1:5433  (cluster <version>/replica, slot replica_5433)
#   MariaDB              127.0.0.1:3306  (root over TCP with an empty password, database `test`)
#   PgBouncer            127.0.0.1:6432 -> the primary, 127.0.0.1:6433 -> the replica,
#                        127.0.0.1:6434 -> the primary with ignore_startup_parameters = options
#                        (transaction pooling, the config in scripts/pgbouncer/, user postgres)
#   Patroni cluster      127.0.0.1:5441,127.0.0.1:5442 with etcd (scripts/patroni.sh)
# Needs root and Debian's PostgreSQL and MariaDB packages; installs Debian's pgbouncer if it is
# missing. Exits non-zero if any service is not up at the end.
# Usage: scripts/services.sh [--rebuild-replica]
set -euo pipefail
# shellcheck source=scripts/pidfile.sh
source "$(dirname "$0")/pidfile.sh"

PG_VERSION=${PG_VERSION:-$(ls /etc/postgresql | sort -V | tail -n 1)}
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
REPLICA_PORT=5433
REPLICA_SLOT=replica_5433
REPLICA_CONF_DIR=/etc/postgresql/$PG_VERSION/replica
REPLICA_DATA=/var/lib/postgresql/$PG_VERSION/replica
REPLICA_LOG=/var/log/postgresql/postgresql-$PG_VERSION-replica.log
# Seconds a replica query may delay WAL replay before it is cancelled (SQLSTATE 40001). Low, so
# that tests provoke recovery conflicts in seconds; PostgreSQL's default is 30 s.
REPLICA_STANDBY_DELAY=2s
PGBOUNCER_CONFIG=$(cd "$(dirname "$0")/pgbouncer" && pwd)
PGBOUNCER_RUN=/var/run/postgresql/django-cfg-pgbouncer
REBUILD=${1:-}

say() { printf 'services: %s\n' "$*"; }
fail() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
primary_sql() { as_postgres psql -X -q -At -h 127.0.0.1 -p 5432 -d postgres -c "$1"; }
replica_sql() { as_postgres psql -X -q -At -h 127.0.0.1 -p "$REPLICA_PORT" -d postgres -c "$1"; }
wait_for() { # wait_for SECONDS COMMAND...: poll every 0.1 s
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# --- PostgreSQL primary -------------------------------------------------------------------------
ensure_primary() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    say "starting PostgreSQL $PG_VERSION/main"
    pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start || true
    wait_for 30 pg_isready -q -h 127.0.0.1 -p 5432 || fail "PostgreSQL on 5432 did not start"
  fi
  local hba rule="host replication postgres 127.0.0.1/32 trust"
  hba=$(primary_sql "SHOW hba_file")
  # The first matching pg_hba line wins, and an 'all' line does not cover replication.
  if [[ "$(grep -v -E '^\s*(#|$)' "$hba" | head -n 1)" != "$rule" ]]; then
    say "allowing replication connections from 127.0.0.1 in $hba"
    sed -i "1i $rule" "$hba"
    primary_sql "SELECT pg_reload_conf()" >/dev/null
  fi
  if [[ -z "$(primary_sql "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$REPLICA_SLOT'")" ]]; then
    primary_sql "SELECT pg_create_physical_replication_slot('$REPLICA_SLOT')" >/dev/null
  fi
  say "PostgreSQL primary ready on 127.0.0.1:5432"
}

# --- streaming replica --------------------------------------------------------------------------
REPLICA_PIDFILE=$REPLICA_DATA/postmaster.pid
replica_running() { live_pid "$REPLICA_PIDFILE" postgres "$REPLICA_DATA" >/dev/null; }
replica_streaming() { [[ "$(replica_sql "SELECT status FROM pg_stat_wal_receiver")" == streaming ]]; }
start_replica() { # fails when it is not accepting connections within 60 s
  drop_stale_pidfile "$REPLICA_PIDFILE" postgres "$REPLICA_DATA" | sed 's/^/services: /'
  as_postgres "$PG_BIN/pg_ctl" start -w -t 60 -D "$REPLICA_DATA" -l "$REPLICA_LOG" \
    -o "-c config_file=$REPLICA_CONF_DIR/postgresql.conf" >/dev/null
}
stop_replica() { # immediate: the callers rebuild it
  if replica_running; then as_postgres "$PG_BIN/pg_ctl" stop -w -m immediate -D "$REPLICA_DATA" >/dev/null; fi
}

replica_belongs_to_primary() {
  [[ -f "$REPLICA_DATA/standby.signal" ]] || return 1
  local ours theirs
  ours=$(primary_sql "SELECT system_identifier FROM pg_control_system()")
  theirs=$("$PG_BIN/pg_controldata" "$REPLICA_DATA" 2>/dev/null | awk -F: '/Database system identifier/ {gsub(/ /, "", $2); print $2}')
  [[ -n "$ours" && "$ours" == "$theirs" ]]
}

write_conflict_settings() { # returns 1 when the file already says it
  local file=$REPLICA_CONF_DIR/conf.d/recovery-conflicts.conf text
  text=$(printf '%s\n' "# written by scripts/services.sh: recovery conflicts cancel replica reads quickly" \
    "max_standby_streaming_delay = $REPLICA_STANDBY_DELAY")
  [[ -f "$file" && "$(cat "$file")" == "$text" ]] && return 1
  printf '%s\n' "$text" >"$file"
}

copy_client_authentication() { # the primary's pg_hba (Debian's default asks for passwords)
  local hba
  hba=$(primary_sql "SHOW hba_file")
  cmp -s "$hba" "$REPLICA_CONF_DIR/pg_hba.conf" && return 1
  install -o postgres -g postgres -m 640 "$hba" "$REPLICA_CONF_DIR/pg_hba.conf"
}

build_replica() {
  say "building the streaming replica on 127.0.0.1:$REPLICA_PORT"
  stop_replica
  if [[ ! -f "$REPLICA_CONF_DIR/postgresql.conf" ]]; then
    pg_createcluster "$PG_VERSION" replica --port "$REPLICA_PORT" >/dev/null
  fi
  # A standby refuses to start with lower limits than its primary's: copy them.
  {
    echo "# written by scripts/services.sh"
    echo "port = $REPLICA_PORT"
    echo "hot_standby = on"
    for setting in max_connections max_worker_processes max_wal_senders \
      max_prepared_transactions max_locks_per_transaction; do
      echo "$setting = $(primary_sql "SHOW $setting")"
    done
  } >"$REPLICA_CONF_DIR/conf.d/streaming-replica.conf"
  write_conflict_settings || true
  copy_client_authentication || true
  find "$REPLICA_DATA" -mindepth 1 -delete 2>/dev/null || true
  install -d -o postgres -g postgres -m 700 "$REPLICA_DATA"
  as_postgres pg_basebackup -D "$REPLICA_DATA" -R -X stream -c fast -S "$REPLICA_SLOT" \
    -d "host=127.0.0.1 port=5432 user=postgres application_name=replica"
  start_replica || fail "the new replica on $REPLICA_PORT did not start ($(replica_log_tail))"
}
# A replica that does not come back (a long or stuck recovery after the machine was restored, WAL
# the slot no longer has, ...) holds nothing of its own: it is rebuilt from the primary.
rebuild_replica() { # rebuild_replica WHY
  say "rebuilding the replica: $1; its log ended with:"
  replica_log_tail | sed 's/^/services:   /'
  build_replica
}
replica_log_tail() { tail -n 5 "$REPLICA_LOG" 2>/dev/null || echo "no log at $REPLICA_LOG"; }

ensure_replica() {
  if [[ "$REBUILD" == --rebuild-replica ]] || ! replica_belongs_to_primary; then
    build_replica
  elif ! replica_running; then
    say "starting the stopped replica"
    copy_client_authentication || true
    write_conflict_settings || true
    start_replica || rebuild_replica "it did not accept connections within 60 s"
  else
    local changed=
    copy_client_authentication && changed=1
    write_conflict_settings && changed=1
    if [[ -n "$changed" ]]; then as_postgres "$PG_BIN/pg_ctl" reload -D "$REPLICA_DATA" >/dev/null; fi
  fi
  if ! wait_for 30 replica_streaming; then
    rebuild_replica "it is not streaming from the primary"
    wait_for 30 replica_streaming || fail "replica on $REPLICA_PORT is not streaming (see $REPLICA_LOG)"
  fi
  say "streaming replica ready on 127.0.0.1:$REPLICA_PORT"
}

# --- MariaDB ------------------------------------------------------------------------------------
maria_tcp() { mariadb -h 127.0.0.1 -P 3306 -u root --connect-timeout=2 -e "SELECT 1"; }

ensure_mariadb() {
  if ! mariadb-admin --connect-timeout=2 ping >/dev/null 2>&1 && ! maria_tcp >/dev/null 2>&1; then
    say "starting MariaDB"
    install -d -o mysql -g mysql /run/mysqld
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
    wait_for 30 mariadb-admin --connect-timeout=2 ping || fail "MariaDB did not start"
  fi
  if ! maria_tcp >/dev/null 2>&1; then
    say "allowing root over TCP with an empty password"
    mariadb -u root -e "ALTER USER root@localhost IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket"
  fi
  mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS test"
  say "MariaDB ready on 127.0.0.1:3306"
}

# --- PgBouncer ----------------------------------------------------------------------------------
# Debian's pgbouncer service is left alone; ours runs from a copy of scripts/pgbouncer/ in
# $PGBOUNCER_RUN (so it does not depend on the checkout that started it), as postgres: pgbouncer
# refuses to run as root.
pgbouncer_answers() { as_postgres psql -X -q -At -h 127.0.0.1 -p "$1" -d postgres -c "SELECT 1"; }
pgbouncer_pidfile() { echo "$PGBOUNCER_RUN/django-cfg-pgbouncer-$1.pid"; }
pgbouncer_pid() { live_pid "$(pgbouncer_pidfile "$1")" pgbouncer "$2.ini"; } # pgbouncer_pid PORT INSTANCE
pgbouncer_running() { pgbouncer_pid "$@" >/dev/null; }

PGBOUNCER_CHANGED=() # the files install_pgbouncer_config replaced
install_pgbouncer_config() {
  local file
  install -d -o postgres -g postgres -m 755 "$PGBOUNCER_RUN"
  for file in "$PGBOUNCER_CONFIG"/*.ini "$PGBOUNCER_CONFIG"/userlist.txt; do
    if ! cmp -s "$file" "$PGBOUNCER_RUN/$(basename "$file")"; then
      install -o postgres -g postgres -m 640 "$file" "$PGBOUNCER_RUN/"
      PGBOUNCER_CHANGED+=("$(basename "$file")")
    fi
  done
}
pgbouncer_config_changed() { # pgbouncer_config_changed INSTANCE: its ini or a shared file changed
  local file
  for file in "${PGBOUNCER_CHANGED[@]}"; do
    [[ $file == "$1.ini" || $file == pooling.ini || $file == userlist.txt ]] && return 0
  done
  return 1
}

ensure_pgbouncer() {
  if ! command -v pgbouncer >/dev/null; then
    say "installing pgbouncer (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  fi
  local instance name port pid
  install_pgbouncer_config
  for instance in primary:6432 replica:6433 ignoring-options:6434; do
    name=${instance%%:*} port=${instance#*:}
    if pgbouncer_running "$port" "$name" && pgbouncer_config_changed "$name"; then
      say "restarting PgBouncer on $port (its configuration changed)"
      pid=$(pgbouncer_pid "$port" "$name")
      kill "$pid"
      wait_for 10 bash -c "! kill -0 $pid" || fail "PgBouncer (pid $pid) did not stop"
    fi
    if ! pgbouncer_running "$port" "$name"; then
      if ss -Hltn "sport = :$port" | grep -q .; then
        fail "port $port is taken by another program (ss -ltnp 'sport = :$port'); stop it"
      fi
      # pgbouncer refuses to start over a pid file whose pid is alive, whoever has it now
      drop_stale_pidfile "$(pgbouncer_pidfile "$port")" pgbouncer "$name.ini" | sed 's/^/services: /'
      say "starting PgBouncer on 127.0.0.1:$port ($name)"
      (cd "$PGBOUNCER_RUN" && runuser -u postgres -- pgbouncer -d -q "$name.ini")
    fi
    wait_for 10 pgbouncer_answers "$port" ||
      fail "PgBouncer on $port does not answer (see $PGBOUNCER_RUN/django-cfg-pgbouncer-$port.log)"
  done
  say "PgBouncer ready on 127.0.0.1:6432 (primary), 127.0.0.1:6433 (replica) and" \
    "127.0.0.1:6434 (primary, ignore_startup_parameters = options)"
}

ensure_primary
ensure_replica
ensure_mariadb
ensure_pgbouncer
"$(dirname "$0")/patroni.sh" # the Patroni cluster (5441/5442) of the failover test
