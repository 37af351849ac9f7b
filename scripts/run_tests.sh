#!/usr/bin/env bash
# The whole suite on the services profile. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE=pimlab_portal.settings.test
.venv/bin/ruff check .
DJANGO_SETTINGS_MODULE=pimlab_portal.settings.local .venv/bin/python manage.py makemigrations --check --dry-run >/dev/null
exec .venv/bin/pytest "$@"
