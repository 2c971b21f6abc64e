#!/usr/bin/env bash
# Creates (or refreshes) a virtual environment with django-cfg installed in editable mode.
#   scripts/bootstrap.sh          runtime only (enough for the example on SQLite)
#   scripts/bootstrap.sh dev      + PostgreSQL/MySQL drivers, pytest, ruff, mypy
# PYTHON picks the interpreter (default python3.11), VENV the folder (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
extras=${1:-}

if [[ ",$extras," == *,dev,* ]] && ! pkg-config --exists libmariadb 2>/dev/null; then
  echo "bootstrap: installing the MariaDB client headers that mysqlclient builds against"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config libmariadb-dev >/dev/null
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v "is neither a file nor a directory" >&2); }
pip install -q --disable-pip-version-check --upgrade pip
pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
echo "bootstrap: $("$VENV/bin/python" --version) in $VENV with django-cfg${extras:+[$extras]}"
