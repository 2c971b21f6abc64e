#!/usr/bin/env bash
# Runs the test suite against real databases: installs into .venv, starts PostgreSQL, the
# streaming replica and MariaDB (scripts/services.sh), installs headless Chromium for the
# browser tests (scripts/browser.sh), then pytest. Extra arguments go to pytest.
# With CI=true a test whose database is missing fails instead of being left out.
#
#   scripts/test.sh --parallel [pytest args]   (as CI runs it)
# runs the suite in two pytest processes at once, each on database names of its own, then the
# tests of the shared streaming replica alone (tests/support/lanes.py); each lane's lines are
# prefixed with its name. About half the wall time of one process on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
scripts/bootstrap.sh dev
scripts/services.sh
scripts/browser.sh

# One lane of the suite: its name, the suffix of its database names ("" = the defaults), pytest
# arguments. The database names are the suite's defaults (tests/support/services.py) + suffix.
lane() {
  local name=$1 suffix=$2
  shift 2
  local pg="postgresql://postgres@127.0.0.1"
  (
    if [[ -n "$suffix" ]]; then
      export DJANGO_CFG_TEST_POSTGRES_URL="$pg:5432/dcfg_$suffix"
      export DJANGO_CFG_TEST_REPLICA_URL="$pg:5433/dcfg_$suffix"
      export DJANGO_CFG_TEST_MARIADB_URL="mysql://root@127.0.0.1:3306/dcfg_$suffix?charset=utf8mb4"
    fi
    DJANGO_CFG_TEST_LANE=$name "$VENV/bin/python" -m pytest -p no:cacheprovider "$@" 2>&1 \
      | sed -u "s/^/[$name] /"
  )
}

if [[ ${1:-} == --parallel ]]; then
  shift
  lane tenants lane_tenants "$@" & tenants=$!
  lane others lane_others "$@" & others=$!
  status=0
  wait "$tenants" || status=1
  wait "$others" || status=1
  lane shared-replica "" "$@" || status=1
  [[ $status == 0 ]] || { echo "test.sh: a lane failed (its lines start with its name)" >&2; exit 1; }
else
  "$VENV/bin/python" -m pytest "$@"
fi
# Django's own multiple_database, admin and delete tests with the package installed (about a
# minute of CPU once cached).
scripts/django_suite.sh
