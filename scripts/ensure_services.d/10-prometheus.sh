#!/usr/bin/env bash
# promtool (rule checks and unit tests) and a Prometheus server the SLO tests start on loopback.
set -euo pipefail
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "Installing prometheus (promtool) with apt-get …"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
  # The package enables a system service; the lab starts its own instances when it needs them.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl stop prometheus || true
  fi
fi
echo "promtool: $(promtool --version 2>&1 | head -n 1)"
