#!/usr/bin/env bash
# HA lab prerequisites for `manage.py lab_ha` and the failover drill:
#   - etcd from Debian's etcd-server package (the distributed configuration store Patroni uses);
#   - Patroni 4.1.5 from PyPI in a virtualenv made from /usr/bin/python3 under /opt, because
#     Patroni and PostgreSQL run as the postgres OS user, who cannot execute a venv under /root.
# Idempotent; `PIMLAB_PATRONI_VENV` overrides where the venv lives.
set -euo pipefail

PATRONI_VERSION=4.1.5
venv=${PIMLAB_PATRONI_VENV:-/opt/pimlab-patroni}

if ! command -v etcd >/dev/null 2>&1; then
  echo "Installing etcd-server with apt-get …"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq etcd-server >/dev/null
  # Where systemd runs, the package starts a system etcd on 2379/2380; the lab runs its own
  # member on other loopback ports, so it is only disabled.
  systemctl disable --now etcd >/dev/null 2>&1 || true
fi

if ! "$venv/bin/patroni" --version 2>/dev/null | grep -q "$PATRONI_VERSION"; then
  echo "Installing Patroni $PATRONI_VERSION into $venv …"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "patroni[etcd,psycopg3]==$PATRONI_VERSION" "psycopg[binary]"
  chmod -R a+rX "$venv"
fi
echo "etcd: $(etcd --version 2>/dev/null | head -n 1); patroni: $("$venv/bin/patroni" --version)"
