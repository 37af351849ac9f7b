# PIM SRE Lab portal. `make run` (embedded profile) and `make test` (PostgreSQL + Redis).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: run test install migrate seed services lint format check bench clean

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate_all

seed: migrate
	$(PY) manage.py seed_lab --patients 200 --seed 42

run: seed
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py lab_banner
	$(VENV)/bin/honcho start -f Procfile web worker beat 2>/dev/null || bash scripts/run_procfile.sh

services:
	bash scripts/ensure_services.sh

test: install services
	bash scripts/run_tests.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=pimlab_portal.settings.local $(PY) manage.py makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var

# Booking and relay benchmark (see README "Benchmarks").
bench: install services
	bash scripts/ensure_bench_tools.sh
	$(PY) bench/booking_relay_bench.py
