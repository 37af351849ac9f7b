# PIM SRE Lab portal. `make run` (embedded profile) and `make test` (PostgreSQL + Redis).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# The embedded profile: SQLite files and a filesystem broker under var/ (PIMLAB_VAR_DIR moves them).
VAR_DIR := $(or $(PIMLAB_VAR_DIR),$(CURDIR)/var)
EMBEDDED := DJANGO_SETTINGS_MODULE=pimlab_portal.settings.local PATH="$(CURDIR)/$(VENV)/bin:$$PATH"
PATIENTS ?= 200
LAB_SEED ?= 42

.PHONY: run test install migrate seed services lint format check bench clean validate-sequences

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { echo "Python 3.11 is required (found: $(PYTHON))"; exit 1; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(EMBEDDED) $(PY) manage.py migrate_all

seed: migrate
	$(EMBEDDED) $(PY) manage.py seed_lab --patients $(PATIENTS) --seed $(LAB_SEED)
	$(EMBEDDED) $(PY) manage.py probe_setup
	$(EMBEDDED) $(PY) manage.py seed_workload --visits 60

# Web (gunicorn), worker and beat from the Procfile, on the embedded profile; Ctrl-C stops all three.
# They share one metrics folder, so the web process's /metrics also shows the worker's samples.
run: seed
	$(EMBEDDED) $(PY) manage.py collectstatic --noinput --verbosity 0
	$(EMBEDDED) $(PY) manage.py lab_banner
	$(EMBEDDED) PROMETHEUS_MULTIPROC_DIR="$(VAR_DIR)/prometheus-multiproc" $(VENV)/bin/honcho start --no-colour web worker beat

services:
	bash scripts/ensure_services.sh

test: install services
	bash scripts/run_tests.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DJANGO_SETTINGS_MODULE=pimlab_portal.settings.local $(PY) manage.py makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var

# Booking and relay benchmark (see README "Benchmarks").
bench: install services
	$(PY) bench/booking_relay_bench.py

# --- Runtime sequence catalog ---------------------------------------------------------------------
# Diagrams, paths, span names, metrics and dashboards of docs/requirements/runtime-sequence-catalog.md
# against the code; non-zero on drift. CATALOG=… checks another copy (SEED_CATALOG=… the seed it must equal).
validate-sequences: install
	$(EMBEDDED) PIMLAB_VAR_DIR="$(VAR_DIR)" $(PY) manage.py validate_sequences $(if $(CATALOG),--catalog $(CATALOG)) $(if $(SEED_CATALOG),--seed $(SEED_CATALOG))
# --- end runtime sequence catalog ---
