#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432, trust auth for postgres over TCP) and Redis
# (127.0.0.1:6379) are running; install them with apt-get when they are missing.
# Used by `make test` and CI (as root). Idempotent.
set -euo pipefail

need_apt=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql postgresql-contrib)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing ${need_apt[*]} with apt-get …"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

pg_version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)

trust_local_tcp() {
  # The test profile connects as postgres over TCP without a password, as on our machines.
  [ -n "$pg_version" ] || return 0
  local hba=/etc/postgresql/$pg_version/main/pg_hba.conf
  grep -q "pimlab trust" "$hba" 2>/dev/null && return 0
  echo "Allowing trust auth on loopback in $hba …"
  sed -i '1i host all all 127.0.0.1/32 trust # pimlab trust\nhost all all ::1/128 trust # pimlab trust' "$hba"
  return 1
}

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "Starting PostgreSQL $pg_version …"
  trust_local_tcp || true
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
elif ! psql -h 127.0.0.1 -U postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
  # Running (e.g. started by the package install) but asking for a password.
  trust_local_tcp || pg_ctlcluster --skip-systemctl-redirect "$pg_version" main reload
  sleep 1
fi
pg_isready -h 127.0.0.1 -p 5432
psql -h 127.0.0.1 -U postgres -tAc 'SELECT 1' >/dev/null

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Starting Redis …"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly yes \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
# The event bus keeps its history across a Redis restart: append-only file, fsync every second.
redis-cli -h 127.0.0.1 -p 6379 CONFIG SET appendfsync everysec >/dev/null
redis-cli -h 127.0.0.1 -p 6379 CONFIG SET appendonly yes >/dev/null
echo "Redis: $(redis-cli -h 127.0.0.1 -p 6379 ping) (appendonly $(redis-cli -h 127.0.0.1 -p 6379 CONFIG GET appendonly | tail -n 1))"

# Each area that needs more (tools, extra servers) adds a script here; they run in name order.
for extra in "$(dirname "$0")"/ensure_services.d/*.sh; do
  [ -e "$extra" ] || continue
  echo "Running ${extra##*/} …"
  bash "$extra"
done
