#!/usr/bin/env bash
# promtool (rule checks and unit tests), amtool, and the Prometheus and Alertmanager servers that
# `make observe` and the SLO tests start on loopback (Debian's prometheus, prometheus-alertmanager).
set -euo pipefail
need_apt=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v amtool >/dev/null 2>&1 && command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing ${need_apt[*]} with apt-get …"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  # The packages enable system services; the lab starts its own instances when it needs them.
  for unit in prometheus prometheus-alertmanager; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$unit" 2>/dev/null; then
      systemctl stop "$unit" || true
    fi
  done
fi
echo "promtool: $(promtool --version 2>&1 | head -n 1)"
echo "amtool: $(amtool --version 2>&1 | head -n 1)"
