#!/usr/bin/env bash
# The whole suite on the services profile (PostgreSQL + Redis): lint, migration check, import
# contracts, pytest.
# Extra arguments go to pytest. pytest's exit status is this script's exit status.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE=pimlab_portal.settings.test
echo "== ruff"
.venv/bin/ruff check .
echo "== makemigrations --check"
# The embedded profile's files for this check go to a scratch folder, not the checkout's var/.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
DJANGO_SETTINGS_MODULE=pimlab_portal.settings.local PIMLAB_VAR_DIR="$scratch" \
  .venv/bin/python manage.py makemigrations --check --dry-run
echo "== import-linter (layers of DESIGN.md, no cycles)"
.venv/bin/lint-imports
echo "== pytest"
status=0
.venv/bin/pytest -p no:cacheprovider "$@" || status=$?
exit "$status"
