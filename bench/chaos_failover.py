"""Repeat the failover drill on the HA lab with bookings through the API and print RTO/RPO figures.

    .venv/bin/python bench/chaos_failover.py --runs 3 --switchover-runs 3 --crash-runs 3

What it sets up (its own databases ``pimlab_chaosbench_*`` on the local PostgreSQL, Redis database
``PIMLAB_CHAOS_BENCH_REDIS_DB`` (default 5), the HA lab under ``PIMLAB_HA_DIR`` (default
``/tmp/pimlab-chaosbench-ha``) on ``PIMLAB_HA_BASE_PORT`` (default 15400)):

- the Patroni + etcd pair, built if it is not up (and removed afterwards);
- the app under gunicorn (the lab's gunicorn.conf.py: 2 sync workers, production settings) whose
  ``shard_1`` is the pair's multi-host URL with ``target_session_attrs=read-write``;
- per drill, the HTTP persona workload (2 patient personas booking through ``POST /api/encounters``
  with token auth and an Idempotency-Key, their patients on ``shard_1``).

Then, in one sitting: ``--switchover-runs`` planned switchovers (the baseline), ``--crash-runs``
postmaster-only crashes, ``--runs`` pod kills of the leader. Each: RTO = fault → first 2xx booking
after the longest write stall; RPO = encounter ids answered 2xx that are missing on the new leader;
error ratio = non-2xx answers among the attempts from the fault to recovery. ``--orm-runs N`` adds
N pod kills seen by bare ORM writers (no app, no app retries) as a unit of comparison. Timings
depend on the machine's load: quote ratios, and say what else was running. The table (min/median/
max per fault, against the issue's targets and the figures measured with Patroni's default lease)
is also written as JSON under ``var/bench/``.
"""

from __future__ import annotations

import argparse
import itertools
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import Figure, bench_report_write

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("PIMLAB_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PREFIX = os.environ.get("PIMLAB_CHAOS_BENCH_DB_PREFIX", "pimlab_chaosbench")
REDIS_URL = f"redis://127.0.0.1:6379/{os.environ.get('PIMLAB_CHAOS_BENCH_REDIS_DB', '5')}"
HA_DIR = os.environ.get("PIMLAB_HA_DIR", "/tmp/pimlab-chaosbench-ha")
HA_BASE_PORT = int(os.environ.get("PIMLAB_HA_BASE_PORT", "15400"))
WEB_PORT = HA_BASE_PORT + 80
BENCH_OUT = ROOT / "var" / "bench"
DATABASES = {"catalog": f"{PREFIX}_catalog", "shard0": f"{PREFIX}_shard0", "audit": f"{PREFIX}_audit"}


def ha_dsn() -> str:
    # The lab's layout: node N's PostgreSQL on base + 10 * (N + 1); checked against the lab's state below.
    from apps.chaos.ha_lab import LIBPQ_OPTIONS

    hosts = f"127.0.0.1:{HA_BASE_PORT + 10},127.0.0.1:{HA_BASE_PORT + 20}"
    return f"postgres://postgres@{hosts}/pimlab_ha_shard?target_session_attrs=read-write&{LIBPQ_OPTIONS}"


def bench_env(*, node_agent: bool = True) -> dict:
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
            "PIMLAB_SSL_REDIRECT": "0",  # plain HTTP on loopback: no redirect to https
            "PIMLAB_SPAN_STORE_SIZE": "500",
            "PIMLAB_HA_NODE_AGENT": "1" if node_agent else "0",
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
    from apps.chaos.activities import get_activity
    from apps.chaos.registry import ActivityContext

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


def ha_settings(ha_lab, state) -> dict:
    """The timings the lab ran with: Patroni's DCS values, the app's libpq URL, the booking retry."""
    from django.conf import settings

    dcs = ha_lab.patroni_config(state, state.nodes[0])["bootstrap"]["dcs"]
    return {
        **{key: dcs[key] for key in ("ttl", "loop_wait", "retry_timeout")},
        "patroni_stop_poll_seconds": ha_lab.PATRONI_STOP_POLL_SECONDS,
        "shard_url": state.dsn(),
        "booking_retry_attempts": settings.PIMLAB_BOOKING_RETRY_ATTEMPTS,
        "booking_retry_budget_seconds": settings.PIMLAB_BOOKING_RETRY_BUDGET_SECONDS,
    }


def _paced_writers(base_url: str, personas: list, *, rate: float, seconds: float, out: Path) -> None:
    """HTTP bookings at ``rate`` per second in all (0: as fast as each writer can), for ``seconds``."""
    import threading
    import uuid

    import requests

    from apps.chaos.workload import AttemptLog, backoff_seconds

    log, stop = AttemptLog(out), threading.Event()
    interval = len(personas) / rate if rate else 0.0

    def writer(index: int, token: str, patient_id: str) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        due = time.monotonic()
        while not stop.is_set():
            key, failures = f"soak-{index}-{uuid.uuid4().hex}", 0
            body = {
                "patient_id": patient_id,
                "encounter_type": "in_person",
                "reason": "Failover soak",
                "requested_start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400 * 7)),
            }
            while not stop.is_set():
                started = time.time()
                try:
                    response = session.post(f"{base_url}/api/encounters", json=body,
                                            headers={"Idempotency-Key": key}, timeout=15)  # fmt: skip
                    ok, error = 200 <= response.status_code < 300, f"HTTP {response.status_code}"
                    ident = str(response.json().get("id", "")) if ok else ""
                except (requests.RequestException, ValueError) as exc:
                    ok, error, ident = False, type(exc).__name__, ""
                if ok:
                    log.write(writer=index, start=started, end=time.time(), ok=True, id=ident)
                    break
                failures += 1
                log.write(writer=index, start=started, end=time.time(), ok=False, error=error)
                time.sleep(backoff_seconds(failures))
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))

    threads = [threading.Thread(target=writer, args=(i, *p), daemon=True) for i, p in enumerate(personas)]
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=20)
    log.close()


def soak(ha_lab, state, *, seconds: float, load: float, writers: int = 8) -> dict:
    """Bookings through the API at ``load`` × the peak measured just before, for ``seconds``, while the
    leader and the timeline are sampled every 0.5 s: a leader change with no fault is a false failover."""
    import threading

    from apps.chaos.workload import http_workload_prepare, missing_acknowledged, read_attempts

    base_url = f"http://127.0.0.1:{WEB_PORT}"
    personas = http_workload_prepare(alias="shard_1", writers=writers)
    tmp = Path(tempfile.mkdtemp(prefix="pimlab-soak-"))
    calibration = 20.0
    _paced_writers(base_url, personas, rate=0, seconds=calibration, out=tmp / "peak.jsonl")
    peak = sum(1 for r in read_attempts(tmp / "peak.jsonl") if r.get("ok")) / calibration
    target_rate = peak * load

    def timeline() -> int | None:
        leader = ha_lab.cluster_leader(state)
        return ha_lab.rest(state, leader, "patroni")[1].get("timeline") if leader else None

    samples: list[tuple[float, str | None, int | None]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.time(), ha_lab.cluster_leader(state), timeline()))
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.time()
    _paced_writers(base_url, personas, rate=target_rate, seconds=seconds, out=tmp / "soak.jsonl")
    elapsed = time.time() - started
    done.set()
    sampler.join(timeout=5)
    records = read_attempts(tmp / "soak.jsonl")
    acknowledged = [r["id"] for r in records if r.get("ok")]
    leaders = [leader for _, leader, _ in samples]
    changes = sum(1 for a, b in itertools.pairwise(leaders) if a and b and a != b)
    timelines = [t for _, _, t in samples if t is not None]
    lost = len(missing_acknowledged(dsn=state.dsn(), table="encounters_encounter", ids=acknowledged))
    return {
        "seconds": round(elapsed, 1),
        "writers": writers,
        "peak_bookings_per_second": round(peak, 1),
        "target_bookings_per_second": round(target_rate, 1),
        "bookings_per_second": round(len(acknowledged) / elapsed, 1),
        "acknowledged": len(acknowledged),
        "failed_attempts": sum(1 for r in records if not r.get("ok")),
        "leader_samples": len(samples),
        "samples_without_leader": sum(1 for leader in leaders if leader is None),
        "leader_changes": changes,
        "timeline": {"first": timelines[0] if timelines else None, "last": timelines[-1] if timelines else None},
        "acknowledged_writes_lost": lost,
        "attempts": str(tmp),
    }


def soak_figures(result: dict) -> list[Figure]:
    timeline_moves = (result["timeline"]["last"] or 0) - (result["timeline"]["first"] or 0)
    return [
        Figure("soak leader changes (no fault)", result["leader_changes"], 0, unit="", higher_is_better=False),
        Figure("soak timeline increments", timeline_moves, 0, unit="", higher_is_better=False),
        Figure("soak bookings/s ÷ peak", result["bookings_per_second"], 0.45, result["peak_bookings_per_second"]),
        Figure("soak acknowledged writes lost", result["acknowledged_writes_lost"], 0, higher_is_better=False),
    ]


def spread(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "all": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="pod kills with the HTTP workload (default 3)")
    parser.add_argument("--orm-runs", type=int, default=0, help="pod kills seen by bare ORM writers (default 0)")
    parser.add_argument("--switchover-runs", type=int, default=1, help="planned switchovers (default 1)")
    parser.add_argument("--crash-runs", type=int, default=1, help="postmaster-only crashes (default 1)")
    parser.add_argument(
        "--stop-poll-seconds",
        type=float,
        default=None,
        help="Patroni's stop-polling interval for a lab this run builds (default: the lab's, 0.25; Patroni's own: 1)",
    )
    parser.add_argument("--label", default="", help="a note kept in the JSON report (e.g. before/after)")
    parser.add_argument(
        "--no-agent", action="store_true", help="no node agent: the lab as it was before (lease-only failover)"
    )
    parser.add_argument(
        "--soak-seconds", type=float, default=0, help="first, a sustained run of this length counting leader changes"
    )
    parser.add_argument("--soak-load", type=float, default=0.5, help="soak load as a share of the measured peak")
    args = parser.parse_args()
    started = time.perf_counter()
    env = bench_env(node_agent=not args.no_agent)
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

    if args.stop_poll_seconds is not None:
        ha_lab.PATRONI_STOP_POLL_SECONDS = args.stop_poll_seconds  # before/after pairs: 1.0 is Patroni's own
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
        settings_used = ha_settings(ha_lab, state)
        soak_result = soak(ha_lab, state, seconds=args.soak_seconds, load=args.soak_load) if args.soak_seconds else None
        load_before = os.getloadavg()[0]
        switchovers = [drill("ha_switchover") for _ in range(args.switchover_runs)]
        crashes = [drill("ha_postmaster_kill") for _ in range(args.crash_runs)]
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
    if not kills or not switchovers or not crashes:
        print(json.dumps({"soak": soak_result, "ha_settings": settings_used}, indent=2))
        if soak_result:
            bench_report_write("failover_soak", soak_figures(soak_result), details=soak_result, out_dir=BENCH_OUT)
        return
    rtos = [k["rto_seconds"] for k in kills]
    switchover_rtos = [k["rto_seconds"] for k in switchovers]
    crash_rtos = [k["rto_seconds"] for k in crashes]
    every = [*switchovers, *crashes, *kills]
    result = {
        "label": args.label,
        "workload": "http: 2 patient personas booking via POST /api/encounters (gunicorn, 2 sync workers)",
        "ha_settings": settings_used,
        "soak": soak_result,
        "pod_kill_runs": args.runs,
        "pod_kill_rto_seconds": spread(rtos),
        "pod_kill_new_leader": [k.get("new_leader") for k in kills],
        "pod_kill_api_error_ratio (fault to recovery)": [k["error_ratio"] for k in kills],
        "switchover_rto_seconds": spread(switchover_rtos),
        "switchover_api_error_ratio": [k["error_ratio"] for k in switchovers],
        "postmaster_crash_rto_seconds": spread(crash_rtos),
        "acknowledged_writes": [k["workload_acknowledged"] for k in every],
        "acknowledged_writes_lost": [k["rpo_acknowledged_writes_lost"] for k in every],
        "pod_kill_rto / switchover_rto (median)": round(
            statistics.median(rtos) / statistics.median(switchover_rtos), 1
        ),
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
    lost = sum(result["acknowledged_writes_lost"])
    figures = [
        # Baselines: the figures measured with Patroni's default lease before the lab was tuned.
        # Targets as ratios of those baselines: pod kill ≤ 10 s of 20 s, switchover ≤ 2 s of 3.2 s.
        Figure("pod-kill RTO median", statistics.median(rtos), 10 / 20.0, 20.0, "s", higher_is_better=False),
        Figure("pod-kill RTO max", max(rtos), 10 / 20.0, 20.0, "s", higher_is_better=False),
        Figure("switchover RTO median", statistics.median(switchover_rtos), 2 / 3.2, 3.2, "s", higher_is_better=False),
        Figure("switchover RTO max", max(switchover_rtos), 2 / 3.2, 3.2, "s", higher_is_better=False),
        Figure("postmaster crash RTO median", statistics.median(crash_rtos), 1.0, 3.0, "s", higher_is_better=False),
        Figure("acknowledged writes lost (RPO)", lost, 0, unit="writes", higher_is_better=False),
    ]
    if soak_result:
        figures += soak_figures(soak_result)
    bench_report_write("failover_rto", figures, details=result, out_dir=BENCH_OUT)


if __name__ == "__main__":
    main()
