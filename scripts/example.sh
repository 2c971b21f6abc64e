#!/usr/bin/env bash
# The main job: the example project on its SQLite default (no services needed).
# Installs django-cfg into .venv, migrates examples/saas/db/default.sqlite3, runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
scripts/bootstrap.sh
cd examples/saas
"../../$VENV/bin/python" manage.py migrate --noinput
"../../$VENV/bin/python" manage.py check
"../../$VENV/bin/python" demo.py
