"""Repeat the failover drill on the HA lab with bookings through the API and print RTO/RPO figures.

    .venv/bin/python bench/chaos_failover.py --runs 3

What it sets up (its own databases ``pimlab_chaosbench_*`` on the local PostgreSQL, Redis database
``PIMLAB_CHAOS_BENCH_REDIS_DB`` (default 5), the HA lab under ``PIMLAB_HA_DIR`` (default
``/tmp/pimlab-chaosbench-ha``) on ``PIMLAB_HA_BASE_PORT`` (default 15400)):

- the Patroni + etcd pair, built if it is not up (and removed afterwards);
- the app under gunicorn (the lab's gunicorn.conf.py: 2 sync workers, production settings) whose
  ``shard_1`` is the pair's multi-host URL with ``target_session_attrs=read-write``;
- per drill, the HTTP persona workload (2 patient personas booking through ``POST /api/encounters``
  with token auth and an Idempotency-Key, their patients on ``shard_1``).

Then, in one sitting: a planned switchover (the baseline), one postmaster-only crash, ``--runs``
pod kills of the leader. Each: RTO = fault → first 2xx booking after the longest write stall;
RPO = encounter ids answered 2xx that are missing on the new leader; error ratio = non-2xx answers
among the attempts from the fault to recovery. ``--orm-runs N`` adds N pod kills seen by bare ORM
writers (no app, no app retries) as a unit of comparison. Timings depend on the machine's load:
quote ratios, and say what else was running.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("PIMLAB_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PREFIX = os.environ.get("PIMLAB_CHAOS_BENCH_DB_PREFIX", "pimlab_chaosbench")
REDIS_URL = f"redis://127.0.0.1:6379/{os.environ.get('PIMLAB_CHAOS_BENCH_REDIS_DB', '5')}"
HA_DIR = os.environ.get("PIMLAB_HA_DIR", "/tmp/pimlab-chaosbench-ha")
HA_BASE_PORT = int(os.environ.get("PIMLAB_HA_BASE_PORT", "15400"))
WEB_PORT = HA_BASE_PORT + 80
DATABASES = {"catalog": f"{PREFIX}_catalog", "shard0": f"{PREFIX}_shard0", "audit": f"{PREFIX}_audit"}


def ha_dsn() -> str:
    # The lab's layout: node N's PostgreSQL on base + 10 * (N + 1); checked against the lab's state below.
    hosts = f"127.0.0.1:{HA_BASE_PORT + 10},127.0.0.1:{HA_BASE_PORT + 20}"
    return f"postgres://postgres@{hosts}/pimlab_ha_shard?target_session_attrs=read-write&connect_timeout=2"


def bench_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIMLAB_", "OTEL_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "pimlab_portal.settings.production",
            "DJANGO_SECRET_KEY": "bench-only-secret",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PIMLAB_CATALOG_URL": f"{PG}/{DATABASES['catalog']}",
            "PIMLAB_SHARD_URLS": f"{PG}/{DATABASES['shard0']},{ha_dsn()}",
            "PIMLAB_AUDIT_URL": f"{PG}/{DATABASES['audit']}",
            "PIMLAB_EVENTBUS_URL": REDIS_URL,
            "PIMLAB_REDIS_URL": REDIS_URL,
            "PIMLAB_BROKER_URL": REDIS_URL,
            "PIMLAB_VAR_DIR": str(Path(tempfile.gettempdir()) / "pimlab-chaosbench-var"),
            "PIMLAB_HA_DIR": HA_DIR,
            "PIMLAB_HA_BASE_PORT": str(HA_BASE_PORT),
            "PIMLAB_EXTERNAL_URL": f"http://127.0.0.1:{WEB_PORT}",
            "PIMLAB_LOG_LEVEL": "WARNING",
            "PIMLAB_SPAN_STORE_SIZE": "500",
        }
    )
    return env


def ensure_databases() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        existing = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
        for name in DATABASES.values():
            if name not in existing:
                connection.execute(f'CREATE DATABASE "{name}"')


def start_web(env: dict, log_path: Path) -> subprocess.Popen:
    log = log_path.open("w")
    web = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "pimlab_portal" / "gunicorn.conf.py")],
        cwd=ROOT, env={**env, "GUNICORN_BIND": f"127.0.0.1:{WEB_PORT}", "GUNICORN_WORKERS": "2"},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", WEB_PORT), timeout=0.5).close()
            return web
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not listen on {WEB_PORT}; see {log_path}")


def drill(fault_action: str, *, kind: str = "http") -> dict:
    from apps.chaos.registry import ActivityContext, get_activity

    def act(name: str, **arguments):
        return get_activity("action", name).function(ctx, **arguments)

    ctx = ActivityContext(experiment_key=f"bench-{fault_action}-{kind}")
    try:
        act("ha_wait_healthy", timeout=180)
        act("workload_start", kind=kind, writers=2)
        ctx.sleep(2)
        act(fault_action)
        act("ha_measure_recovery", timeout=180)
        ctx.sleep(2)
        act("workload_stop")
        act("ha_rejoin", timeout=240)
    finally:
        act("workload_stop", verify=False)
    return dict(ctx.summary)


def spread(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "all": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="pod kills with the HTTP workload (default 3)")
    parser.add_argument("--orm-runs", type=int, default=0, help="pod kills seen by bare ORM writers (default 0)")
    args = parser.parse_args()
    started = time.perf_counter()
    env = bench_env()
    Path(env["PIMLAB_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    Path(HA_DIR).parent.mkdir(parents=True, exist_ok=True)
    ensure_databases()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from apps.chaos import ha_lab
    from apps.core.shard_map import shard_map_spread_evenly

    state = ha_lab.load_state()
    built = state is None or not ha_lab.process_alive(state.etcd_pid)
    if built:
        state = ha_lab.lab_up()
    if state.dsn() != ha_dsn():
        sys.exit(f"The lab's URL {state.dsn()} is not the one the app was configured with ({ha_dsn()}).")
    web = None
    tmp = Path(tempfile.mkdtemp(prefix="pimlab-chaosbench-"))
    try:
        call_command("migrate_all", verbosity=0)  # catalog, shard_0, the HA shard (shard_1), audit store
        shard_map_spread_evenly()
        web = start_web(env, tmp / "web.log")
        load_before = os.getloadavg()[0]
        baseline = drill("ha_switchover")
        crash = drill("ha_postmaster_kill")
        kills = [drill("ha_pod_kill") for _ in range(args.runs)]
        orm_kills = [drill("ha_pod_kill", kind="orm") for _ in range(args.orm_runs)]
    finally:
        if web is not None:
            os.killpg(web.pid, signal.SIGTERM)
            try:
                web.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(web.pid, signal.SIGKILL)
        # Keep the attempt logs and the lab's logs for a look afterwards.
        for attempts in Path(state.base_dir).glob("workload-*/attempts.jsonl"):
            shutil.copy(attempts, tmp / f"{attempts.parent.name}.jsonl")
        if built:
            ha_lab.lab_down(keep_logs_in=tmp / "lab-logs")
    rtos = [k["rto_seconds"] for k in kills]
    result = {
        "workload": "http: 2 patient personas booking via POST /api/encounters (gunicorn, 2 sync workers)",
        "pod_kill_runs": args.runs,
        "pod_kill_rto_seconds": spread(rtos),
        "pod_kill_acknowledged_writes_lost": [k["rpo_acknowledged_writes_lost"] for k in kills],
        "pod_kill_acknowledged_writes": [k["workload_acknowledged"] for k in kills],
        "pod_kill_api_error_ratio (fault to recovery)": [k["error_ratio"] for k in kills],
        "switchover_rto_seconds (baseline)": baseline["rto_seconds"],
        "switchover_acknowledged_writes_lost": baseline["rpo_acknowledged_writes_lost"],
        "switchover_api_error_ratio": baseline["error_ratio"],
        "postmaster_crash_rto_seconds": crash["rto_seconds"],
        "postmaster_crash_acknowledged_writes_lost": crash["rpo_acknowledged_writes_lost"],
        "pod_kill_rto / switchover_rto (median)": round(statistics.median(rtos) / baseline["rto_seconds"], 1),
        "pod_kill_rto / 25 s target (max)": round(max(rtos) / 25, 2),
        "cpu_count": os.cpu_count(),
        "load_average_1m": {"before": load_before, "after": os.getloadavg()[0]},
        "wall_seconds": round(time.perf_counter() - started, 1),
        "logs": str(tmp),
    }
    if orm_kills:
        orm_rtos = [k["rto_seconds"] for k in orm_kills]
        result["orm_pod_kill_rto_seconds (no app)"] = spread(orm_rtos)
        result["orm_pod_kill_acknowledged_writes_lost"] = [k["rpo_acknowledged_writes_lost"] for k in orm_kills]
        result["http_rto / orm_rto (median)"] = round(statistics.median(rtos) / statistics.median(orm_rtos), 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
