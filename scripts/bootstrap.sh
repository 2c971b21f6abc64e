#!/usr/bin/env bash
# Creates (or refreshes) a virtual environment with django-cfg installed in editable mode.
#   scripts/bootstrap.sh          runtime only (enough for the example on SQLite)
#   scripts/bootstrap.sh dev      + PostgreSQL/MySQL drivers, pytest, ruff, mypy
# PYTHON picks the interpreter (default python3.11), VENV the folder (default .venv).
# A re-run with the same checkout, extras and pyproject.toml installs nothing (stamp in $VENV).
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
# What the install was made from: this checkout, the interpreter and pyproject.toml (its
# dependencies), one line per set of extras installed. The same line as a past successful
# install (any line when no extras are asked for) means the editable install is up to date.
stamp_file="$VENV/.django-cfg-bootstrap"
made_from="$(pwd) $("$VENV/bin/python" --version) $(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ -f "$stamp_file" ]] && grep -qxF "$made_from [$extras]" "$stamp_file" \
  || { [[ -z "$extras" && -f "$stamp_file" ]] && grep -qF "$made_from [" "$stamp_file"; }; then
  echo "bootstrap: django-cfg${extras:+[$extras]} in $VENV is up to date (pyproject.toml unchanged)"
  exit 0
fi
pip() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v "is neither a file nor a directory" >&2); }
pip install -q --disable-pip-version-check --upgrade pip
pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
{ grep -F "$made_from [" "$stamp_file" 2>/dev/null || true; echo "$made_from [$extras]"; } \
  >"$stamp_file.new" && mv "$stamp_file.new" "$stamp_file"
echo "bootstrap: $("$VENV/bin/python" --version) in $VENV with django-cfg${extras:+[$extras]}"
