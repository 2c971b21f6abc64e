#!/usr/bin/env bash
# Runs the test suite against real databases: installs into .venv, starts PostgreSQL, the
# streaming replica and MariaDB (scripts/services.sh), installs headless Chromium for the
# browser tests (scripts/browser.sh), then pytest. Extra arguments go to pytest.
# With CI=true a test whose database is missing fails instead of being left out.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
scripts/bootstrap.sh dev
scripts/services.sh
scripts/browser.sh
"$VENV/bin/python" -m pytest "$@"
# Django's own multiple_database, admin and delete tests with the package installed (about a
# minute of CPU once cached).
scripts/django_suite.sh
