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

# Set-up output (migrations, seeding) goes to var/log/setup.log; the console gets one line per step.
LOG_DIR := $(VAR_DIR)/log
QUIET = >>"$(LOG_DIR)/setup.log" 2>&1 || { tail -n 30 "$(LOG_DIR)/setup.log"; exit 1; }

migrate: install
	@mkdir -p "$(LOG_DIR)"
	@echo "Migrating the databases (log: $(LOG_DIR)/setup.log)"
	@$(EMBEDDED) $(PY) manage.py migrate_all $(QUIET)

seed: migrate
	@echo "Seeding personas, patients and a month of visits"
	@$(EMBEDDED) $(PY) manage.py seed_lab --patients $(PATIENTS) --seed $(LAB_SEED) $(QUIET)
	@$(EMBEDDED) $(PY) manage.py probe_setup $(QUIET)
	@$(EMBEDDED) $(PY) manage.py seed_workload --visits 60 $(QUIET)

# Web (gunicorn), worker and beat from the Procfile, on the embedded profile; Ctrl-C stops all three.
# They share one metrics folder, so the web process's /metrics also shows the worker's samples.
# The banner appears once the web process answers; then only warnings and errors reach the console,
# the full JSON logs go to rotated files under var/log/.
run: seed
	@$(EMBEDDED) $(PY) manage.py collectstatic --noinput --verbosity 0
	@echo "Starting web, worker and beat"
	@$(EMBEDDED) PROMETHEUS_MULTIPROC_DIR="$(VAR_DIR)/prometheus-multiproc" PIMLAB_LOG_DIR="$(LOG_DIR)" \
		PIMLAB_CONSOLE_LOG_LEVEL=WARNING GUNICORN_LOG_LEVEL=warning bash scripts/run_lab.sh

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
