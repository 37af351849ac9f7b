#!/usr/bin/env bash
# etcd-server and Patroni for `manage.py lab_ha` (the chaos failover drills).
set -euo pipefail
exec bash "$(dirname "$0")/../ensure_ha_lab.sh"
