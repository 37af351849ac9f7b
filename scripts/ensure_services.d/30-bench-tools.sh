#!/usr/bin/env bash
# Load generator and raw baselines for bench/: wrk, pgbench (postgresql-client), redis-benchmark (redis-tools).
set -euo pipefail
need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v pgbench >/dev/null 2>&1 || need_apt+=(postgresql)
command -v redis-benchmark >/dev/null 2>&1 || need_apt+=(redis-tools)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing ${need_apt[*]} with apt-get …"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
