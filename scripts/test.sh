#!/usr/bin/env bash
# The whole check, as CI runs it: install, lint, type-check, then the tests on SQLite and PostgreSQL.
# Needs PostgreSQL on 127.0.0.1:5432 (database `test`, trust auth) and Redis on 127.0.0.1:6379.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

.venv/bin/ruff check .
.venv/bin/mypy

# The embedded default (SQLite) gets its own pass over everything that touches the database.
HOGFLOWS_TEST_DATABASE_URL=sqlite .venv/bin/pytest -q -m "not postgres_only" tests/api
# The full suite on PostgreSQL and Redis; its summary line is the last thing printed.
.venv/bin/pytest -q "$@"
