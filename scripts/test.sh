#!/usr/bin/env bash
# The whole check, as CI runs it: install from the lock file, lint, type-check, models against migrations,
# then the tests on SQLite and PostgreSQL.
# Needs PostgreSQL on 127.0.0.1:5432 (database `test`, trust auth) and Redis on 127.0.0.1:6379; the tests
# use only Redis database $HOGFLOWS_TEST_REDIS_DB (default 15) and flush it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --require-hashes -r requirements.lock
.venv/bin/python -m pip install --quiet --no-deps -e .

.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python scripts/alembic_check.py

# The embedded default (SQLite) gets its own pass over everything that touches the database.
HOGFLOWS_TEST_DATABASE_URL=sqlite .venv/bin/pytest -q -m "not postgres_only" tests/api
# The full suite on PostgreSQL and Redis; its summary line is the last thing printed.
.venv/bin/pytest -q "$@"
