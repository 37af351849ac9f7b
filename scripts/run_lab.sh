#!/usr/bin/env bash
# `make run`: web, worker, chaos, projections and beat (Procfile) under honcho, then the banner once the web process
# answers. The console shows warnings and errors; full JSON logs go to $PIMLAB_LOG_DIR. Ctrl-C stops all.
set -uo pipefail
# RUN_PROCESSES (from the Makefile) adds Prometheus/Alertmanager with OBSERVE=1.
honcho start --no-colour ${RUN_PROCESSES:-web worker chaos projections beat} &
honcho_pid=$!
stop() { kill -TERM "$honcho_pid" 2>/dev/null; wait "$honcho_pid"; exit 0; }
trap stop INT TERM
python manage.py lab_banner --wait 90
wait "$honcho_pid"
