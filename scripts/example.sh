#!/usr/bin/env bash
# The main job: the example SaaS project on its SQLite files (no services needed).
# Installs django-cfg into .venv, migrates default, blog_db and shop_db (examples/saas/db/),
# runs the demo (a user, a post and a product, each on its own database), then db_status.
# VENV picks the virtual environment (default .venv), EXAMPLE_DIR the project (examples/saas).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
scripts/bootstrap.sh
python="$(cd "$VENV/bin" && pwd)/python"
cd "${EXAMPLE_DIR:-examples/saas}"
"$python" manage.py migrate_all --noinput
"$python" manage.py check
"$python" demo.py
"$python" manage.py db_status
