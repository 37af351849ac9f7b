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

.PHONY: run test install migrate seed services lint format check bench clean validate-sequences observe load profile-web bench-growth bench-shards

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

# Web (gunicorn), worker, the chaos worker (its own queue), the supervised projection worker and beat
# from the Procfile, on the embedded profile; Ctrl-C stops them all (and whatever a drill started).
# The manifest folder is reconciled first, so the drills are listed from the first page load.
# They share one metrics folder, so the web process's /metrics also shows the worker's samples.
# The banner appears once the web process answers; then only warnings and errors reach the console,
# the full JSON logs go to rotated files under var/log/.
# OBSERVE=1 adds the lab's Prometheus + Alertmanager (`make observe`):
# the worker then serves its own metrics on 9808 (own folder), the projection worker on 9809, and
# the SLO engine reads Prometheus (PIMLAB_PROMETHEUS_URL).
OBSERVE ?= 0
RUN_PROCESSES := web worker chaos projections beat$(if $(filter 1,$(OBSERVE)), observe)
OBSERVE_ENV := $(if $(filter 1,$(OBSERVE)),PIMLAB_WORKER_METRICS_PORT=$(or $(PIMLAB_WORKER_METRICS_PORT),9808) PIMLAB_PROJECTION_METRICS_PORT=$(or $(PIMLAB_PROJECTION_METRICS_PORT),9809) PIMLAB_WORKER_MULTIPROC_DIR="$(VAR_DIR)/prometheus-multiproc-worker" PIMLAB_PROMETHEUS_URL=http://127.0.0.1:$(or $(PIMLAB_PROMETHEUS_PORT),9090))
run: seed
	@$(EMBEDDED) $(PY) manage.py collectstatic --noinput --verbosity 0
	@$(EMBEDDED) $(PY) manage.py chaos_reconcile $(QUIET)
	@echo "Starting $(RUN_PROCESSES)"
	@$(EMBEDDED) PROMETHEUS_MULTIPROC_DIR="$(VAR_DIR)/prometheus-multiproc" PIMLAB_LOG_DIR="$(LOG_DIR)" $(OBSERVE_ENV) \
		PIMLAB_CONSOLE_LOG_LEVEL=WARNING GUNICORN_LOG_LEVEL=warning RUN_PROCESSES="$(RUN_PROCESSES)" bash scripts/run_lab.sh

# The lab's Prometheus (:9090) and Alertmanager (:9093) in the foreground, for a lab started with
# `make run` (configs: dashboards/prometheus/; rendered copy, data and logs: var/observe/).
observe: install
	$(EMBEDDED) PIMLAB_VAR_DIR="$(VAR_DIR)" $(PY) manage.py observe

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

# Cost flat as data grows: the same figures at 10k and 1M encounters (GROWTH_SIZES="10000 200000" for a
# shorter run); see README "Benchmarks".
GROWTH_SIZES ?= 10000 1000000
bench-growth: install services
	$(PY) bench/data_growth.py --sizes $(GROWTH_SIZES)

# Booking throughput with 2 and with 4 shard databases on one server (rounds alternate the counts).
bench-shards: install services
	$(PY) bench/shard_scaling.py

# --- Runtime sequence catalog ---------------------------------------------------------------------
# Diagrams, paths, span names, metrics and dashboards of docs/requirements/runtime-sequence-catalog.md
# against the code; non-zero on drift. CATALOG=… checks another copy (SEED_CATALOG=… the seed it must equal).
# LIVE=1 also replays each scenario against the running lab (PIMLAB_PROBE_BASE_URL; the services
# profile, whose processes export spans to the shared trace store), derives participants and message
# order from the recorded traces into docs/requirements/derived/*.mmd and fails on drift.
validate-sequences: install
	$(EMBEDDED) PIMLAB_VAR_DIR="$(VAR_DIR)" $(PY) manage.py validate_sequences $(if $(CATALOG),--catalog $(CATALOG)) $(if $(SEED_CATALOG),--seed $(SEED_CATALOG)) $(if $(filter 1,$(LIVE)),--from-traces)
# --- end runtime sequence catalog ---

# --- Persona load (Locust) and profiles (py-spy) ----------------------------------------------------
# Headless, bounded in time, against the running lab (HOST); report (req/s, failures, p50/p95/p99
# per operation) beside the run in var/load/<time>/. USERS, SPAWN_RATE, DURATION as Locust takes them.
HOST ?= http://127.0.0.1:8000
USERS ?= 20
SPAWN_RATE ?= 5
DURATION ?= 60s
LOAD_RUN := $(VAR_DIR)/load/$(shell date -u +%Y%m%dT%H%M%SZ)
load: install
	mkdir -p "$(LOAD_RUN)"
	$(EMBEDDED) PIMLAB_VAR_DIR="$(VAR_DIR)" $(PY) manage.py load_personas --out "$(LOAD_RUN)/personas.json"
	LOAD_PERSONAS="$(LOAD_RUN)/personas.json" $(VENV)/bin/locust -f load/locustfile.py --headless --host $(HOST) \
		-u $(USERS) -r $(SPAWN_RATE) -t $(DURATION) --csv "$(LOAD_RUN)/locust" --html "$(LOAD_RUN)/locust.html" \
		--only-summary --exit-code-on-error 0
	$(PY) load/report.py "$(LOAD_RUN)"

# A flame graph (SVG) of one web worker for SECONDS_TO_PROFILE, while `make load` (or any traffic)
# runs: PID=<gunicorn worker pid> (default: the first worker found). Written to var/profiles/; pass
# PROFILE_OUT=<a load run folder> to have that run's report link it.
SECONDS_TO_PROFILE ?= 20
profile-web: install
	$(PY) scripts/profile_web_worker.py --seconds $(SECONDS_TO_PROFILE) $(if $(PID),--pid $(PID)) --out "$(or $(PROFILE_OUT),$(VAR_DIR)/profiles)"
