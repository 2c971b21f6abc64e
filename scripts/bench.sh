#!/usr/bin/env bash
# Benchmarks (benchmarks/run.py): installs dev + bench extras into .venv, starts the services,
# measures side by side and writes benchmarks/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
scripts/bootstrap.sh dev,bench
scripts/services.sh
"$VENV/bin/python" - <<'PY'
import psycopg
with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
    if not c.execute("SELECT 1 FROM pg_database WHERE datname = 'django_cfg_bench'").fetchone():
        c.execute("CREATE DATABASE django_cfg_bench")
PY
"$VENV/bin/python" benchmarks/run.py "$@"
