#!/usr/bin/env bash
# A two-node Patroni cluster of PostgreSQL for the failover test
# (tests/operations/test_patroni_failover.py); healthy parts are left alone (idempotent):
#   etcd (the DCS, one node)   127.0.0.1:2389 (clients), 127.0.0.1:2390 (peers)
#   Patroni node pg1           PostgreSQL 127.0.0.1:5441, Patroni REST 127.0.0.1:8008
#   Patroni node pg2           PostgreSQL 127.0.0.1:5442, Patroni REST 127.0.0.1:8009
# synchronous_mode on (a commit returns once the standby has it), primary_start_timeout 0 (a
# crashed leader fails over instead of being restarted in place), pg_rewind for the old leader,
# trust auth on 127.0.0.1. Everything runs as the postgres user (PostgreSQL refuses root), with
# data, configuration and logs under $PATRONI_HOME, independent of any checkout. Installs Debian's
# patroni and etcd-server when missing. Exits non-zero unless the cluster has a leader and a
# streaming synchronous standby at the end. The shared servers (5432/5433, ...) are not touched.
# Usage: scripts/patroni.sh
set -euo pipefail
# shellcheck source=scripts/pidfile.sh
source "$(dirname "$0")/pidfile.sh"

PG_VERSION=${PG_VERSION:-15}
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
PATRONI_HOME=${PATRONI_HOME:-/var/lib/django-cfg-patroni}
ETCD_CLIENT=127.0.0.1:2389
ETCD_PEER=127.0.0.1:2390
NODES=(pg1:5441:8008 pg2:5442:8009) # name:PostgreSQL port:REST port
SCOPE=django-cfg
PYTHON=/usr/bin/python3 # Debian's, which Patroni runs on: parses the REST answers

say() { printf 'patroni: %s\n' "$*"; }
fail() { printf 'patroni: ERROR: %s\n' "$*" >&2; exit 1; }
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
wait_for() { # wait_for SECONDS COMMAND...: poll every 0.2 s
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
port_taken() { ss -Hltn "sport = :$1" | grep -q .; }
running() { live_pid "$@" >/dev/null; } # running PIDFILE NAME WORD (see pidfile.sh)
daemon() { # daemon PIDFILE LOG COMMAND...: start COMMAND in the background as postgres
  start-stop-daemon --start --background --make-pidfile --pidfile "$1" --chuid postgres \
    --chdir "$PATRONI_HOME" --output "$2" --exec "$3" -- "${@:4}"
}
rest() { curl -fsS --max-time 2 "http://127.0.0.1:$1$2"; } # rest PORT PATH

# --- packages -----------------------------------------------------------------------------------
ensure_packages() {
  [[ -x "$PG_BIN/postgres" ]] || fail "PostgreSQL $PG_VERSION is not installed ($PG_BIN/postgres)"
  if ! command -v patroni >/dev/null || ! command -v etcd >/dev/null; then
    say "installing patroni and etcd-server (apt)"
    apt-get update -qq
    # Debian's policy-rc.d (no init system here) keeps the packaged services from starting.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patroni etcd-server >/dev/null
  fi
  install -d -o postgres -g postgres -m 750 "$PATRONI_HOME" "$PATRONI_HOME/log"
  install -d -o postgres -g postgres -m 2775 /var/run/postgresql
}

# --- etcd ---------------------------------------------------------------------------------------
etcd_healthy() { rest "${ETCD_CLIENT#*:}" /health 2>/dev/null | grep -q '"health":"true"'; }

ensure_etcd() {
  local pidfile=$PATRONI_HOME/etcd.pid pid
  local etcd=("$pidfile" etcd "$PATRONI_HOME/etcd") # the pid file, and what its process must be
  if ! etcd_healthy && running "${etcd[@]}" && ! wait_for 10 etcd_healthy; then
    # e.g. still shutting down: a stopping etcd waits for its clients' watch streams to end
    say "restarting etcd (its process runs but does not answer)"
    pid=$(live_pid "${etcd[@]}") && kill -KILL "$pid" 2>/dev/null || true
    wait_for 5 bash -c "! kill -0 $pid" || fail "etcd (pid $pid) did not stop"
  fi
  if ! etcd_healthy; then
    if ! running "${etcd[@]}"; then
      port_taken "${ETCD_CLIENT#*:}" && fail "port ${ETCD_CLIENT#*:} is taken by another program (ss -ltnp)"
      say "starting etcd on $ETCD_CLIENT"
      install -d -o postgres -g postgres -m 700 "$PATRONI_HOME/etcd"
      daemon "$pidfile" "$PATRONI_HOME/log/etcd.log" "$(command -v etcd)" \
        --name django-cfg --data-dir "$PATRONI_HOME/etcd" \
        --listen-client-urls "http://$ETCD_CLIENT" --advertise-client-urls "http://$ETCD_CLIENT" \
        --listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
        --initial-cluster "django-cfg=http://$ETCD_PEER"
    fi
    wait_for 30 etcd_healthy || fail "etcd on $ETCD_CLIENT is not healthy (see $PATRONI_HOME/log/etcd.log)"
  fi
  say "etcd ready on $ETCD_CLIENT"
}

# --- Patroni nodes ------------------------------------------------------------------------------
node_config() { # node_config NAME PG_PORT REST_PORT: the node's Patroni YAML
  cat <<EOF
# written by scripts/patroni.sh
scope: $SCOPE
namespace: /django-cfg-patroni/
name: $1
log:
  dir: $PATRONI_HOME/log/$1
restapi:
  listen: 127.0.0.1:$3
  connect_address: 127.0.0.1:$3
etcd3:
  hosts: $ETCD_CLIENT
bootstrap:
  dcs: # the cluster's dynamic configuration, written to etcd once (see ensure_dynamic_config)
$(dynamic_config | sed 's/^/    /')
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - auth: trust
postgresql:
  listen: 127.0.0.1:$2
  connect_address: 127.0.0.1:$2
  data_dir: $PATRONI_HOME/$1
  bin_dir: $PG_BIN
  pgpass: $PATRONI_HOME/$1.pgpass
  authentication:
    superuser: {username: postgres}
    replication: {username: postgres}
    rewind: {username: postgres}
  parameters:
    unix_socket_directories: /var/run/postgresql
    logging_collector: 'on'
    log_directory: $PATRONI_HOME/log/$1
    log_filename: postgresql.log
  pg_hba:
    - local all all trust
    - host replication all 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
EOF
}

dynamic_config() { # fast failure detection; sync replication; no restart of a crashed leader
  cat <<EOF
ttl: 20
loop_wait: 1
retry_timeout: 5
maximum_lag_on_failover: 1048576
primary_start_timeout: 0
synchronous_mode: true
postgresql:
  use_pg_rewind: true
  use_slots: true
  parameters:
    wal_log_hints: 'on'
    max_connections: 50
    shared_buffers: 32MB
    max_wal_senders: 5
    max_replication_slots: 5
EOF
}

ensure_node() { # ensure_node NAME PG_PORT REST_PORT: its configuration written, its Patroni running
  local name=$1 config=$PATRONI_HOME/$1.yml pidfile=$PATRONI_HOME/$1.pid text
  install -d -o postgres -g postgres -m 750 "$PATRONI_HOME/log/$name"
  text=$(node_config "$@")
  if [[ ! -f "$config" || "$(cat "$config")" != "$text" ]]; then
    printf '%s\n' "$text" >"$config"
    chown postgres:postgres "$config"
    if running "$pidfile" patroni "$config"; then
      say "reloading Patroni $name (its configuration changed)"
      kill -HUP "$(live_pid "$pidfile" patroni "$config")"
    fi
  fi
  if ! running "$pidfile" patroni "$config"; then
    port_taken "$3" && fail "port $3 (Patroni REST of $name) is taken by another program (ss -ltnp)"
    say "starting Patroni $name (PostgreSQL 127.0.0.1:$2, REST 127.0.0.1:$3)"
    daemon "$pidfile" "$PATRONI_HOME/log/$name/patroni.out" "$(command -v patroni)" "$config"
  fi
}

write_ctl_config() { # for patronictl: the DCS only (a node's file makes it read that node's data)
  printf '%s\n' "scope: $SCOPE" "namespace: /django-cfg-patroni/" "etcd3:" "  hosts: $ETCD_CLIENT" \
    >"$PATRONI_HOME/patronictl.yml"
}
ctl() { as_postgres patronictl -c "$PATRONI_HOME/patronictl.yml" "$@"; }

cluster() { # GET /cluster from the first node that answers
  local node
  for node in "${NODES[@]}"; do rest "${node##*:}" /cluster 2>/dev/null && return 0; done
  return 1
}
members_where() { # members_where PYTHON_CONDITION_ON_m: the names of those members
  cluster | "$PYTHON" -c "
import json, sys
print(' '.join(m['name'] for m in json.load(sys.stdin)['members'] if $1))"
}
has_leader() { [[ -n "$(members_where 'm["role"] == "leader" and m["state"] == "running"')" ]]; }
leader_streams_synchronously() { # the leader's own view: a standby streaming with sync_state sync
  local port
  port=$(cluster | "$PYTHON" -c "
import json, sys
print(' '.join(str(m['port']) for m in json.load(sys.stdin)['members'] if m['role'] == 'leader'))")
  [[ -n "$port" ]] && [[ "$("$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -XAtc \
    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'sync'")" == 1 ]]
}
cluster_healthy() { # a running leader and a running synchronous standby, seen by Patroni and PostgreSQL
  [[ "$(members_where 'm["state"] in ("running", "streaming")' | wc -w)" == 2 ]] &&
    [[ -n "$(members_where 'm["role"] == "leader"')" && -n "$(members_where 'm["role"] == "sync_standby"')" ]] &&
    leader_streams_synchronously
}
# Right after a restart, Patroni can list the standby that etcd's /sync key still names (from
# before) as sync_standby for a few seconds, then demote it until it streams again: healthy only
# when it holds for 3 s.
cluster_steady() { cluster_healthy && sleep 3 && cluster_healthy; }

ensure_dynamic_config() { # a cluster bootstrapped earlier keeps what etcd holds: patch it
  local rest_port=${NODES[0]##*:} wanted
  rest "$rest_port" /config >/dev/null 2>&1 || rest_port=${NODES[1]##*:}
  wanted=$(dynamic_config | "$PYTHON" -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))')
  if ! rest "$rest_port" /config | "$PYTHON" -c '
import json, sys
def within(wanted, held):
    if isinstance(wanted, dict):
        return isinstance(held, dict) and all(within(v, held.get(k)) for k, v in wanted.items())
    return str(wanted).lower() == str(held).lower()
sys.exit(0 if within(json.loads(sys.argv[1]), json.load(sys.stdin)) else 1)' "$wanted"; then
    say "updating the cluster's dynamic configuration in etcd"
    curl -fsS --max-time 5 -X PATCH -H 'Content-Type: application/json' -d "$wanted" \
      "http://127.0.0.1:$rest_port/config" >/dev/null
  fi
}

# A replica whose WAL went past the new leader's (possible only if a failover happened without
# synchronous_mode) may never get out of "starting": rebuild it from the leader.
reinit_stuck_replicas() {
  local name
  for name in $(members_where 'm["role"] != "leader" and m["state"] not in ("running", "streaming")'); do
    say "rebuilding $name from the leader (patronictl reinit): it does not run as a replica"
    ctl reinit --force --wait "$SCOPE" "$name" >/dev/null
  done
}

start_nodes() {
  local node name pg_port rest_port
  for node in "${NODES[@]}"; do
    IFS=: read -r name pg_port rest_port <<<"$node"
    ensure_node "$name" "$pg_port" "$rest_port"
  done
}

ensure_packages
ensure_etcd
write_ctl_config
start_nodes
wait_for 60 has_leader || fail "no Patroni node became the leader (logs: $PATRONI_HOME/log/)"
ensure_dynamic_config
if ! wait_for 30 cluster_steady; then
  start_nodes # a Patroni that was still stopping a moment ago
  wait_for 30 cluster_steady || reinit_stuck_replicas
  if ! wait_for 60 cluster_steady; then
    ctl list >&2 || true
    fail "the cluster has no leader with a running synchronous standby (logs: $PATRONI_HOME/log/)"
  fi
fi
say "Patroni cluster '$SCOPE' ready on 127.0.0.1:5441,127.0.0.1:5442, leader:" \
  "$(members_where 'm["role"] == "leader"')"
