#!/usr/bin/env bash
# The main job: the example SaaS project on its SQLite files (no services needed).
# Installs django-cfg into .venv, migrates default, blog_db and shop_db (examples/saas/db/),
# runs the demo (a user, a post and a product, each on its own database), then db_status.
# Idempotent: a re-run installs nothing new (bootstrap's stamp), adds no rows, prints the same.
# VENV picks the virtual environment (default .venv), EXAMPLE_DIR the project (examples/saas).
#
# scripts/example.sh --tenants (or SAAS_TENANTS=1): the tenant mode instead. apps.projects lives
# in a database per tenant (db/tenants/<tenant>.sqlite3, or DATABASE__TENANT_URL, a URL with
# {tenant}), users stay shared on default: migrate_all, check, create_tenant acme and globex (once),
# migrate_all (default and every tenant), tenants_demo.py, db_status.
set -euo pipefail
if [[ "${1:-}" == "--tenants" ]]; then
  export SAAS_TENANTS=1
elif [[ $# -gt 0 ]]; then
  echo "usage: scripts/example.sh [--tenants]" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
scripts/bootstrap.sh
python="$(cd "$VENV/bin" && pwd)/python"
cd "${EXAMPLE_DIR:-examples/saas}"
"$python" manage.py migrate_all --noinput
"$python" manage.py check
if [[ "${SAAS_TENANTS:-}" == 1 ]]; then
  tenants=(acme globex)
  # once: a second run finds the tenants recorded and keeps them
  "$python" manage.py create_tenant "${tenants[@]}" --if-not-exists
  "$python" manage.py migrate_all --noinput
  "$python" manage.py list_tenants
  "$python" tenants_demo.py "${tenants[@]}"
else
  "$python" demo.py
fi
"$python" manage.py db_status
