"""Booking and relay benchmark: the app against raw baselines measured in the same run.

    .venv/bin/python bench/booking_relay_bench.py [--phase-seconds 8]

1. gunicorn with the lab's settings (2 sync workers, persistent DB connections, multiprocess
   metrics), production settings and production telemetry (metrics and structured logs for every
   request, head sampling of traces at the production default, PIMLAB_TRACES_SAMPLE_RATIO=0.1)
   serves POST /api/encounters; wrk drives it flat out (max throughput), then paced at half of
   that rate (p50/p99 latency). Then flat out again with every trace kept (ratio 1), reported
   beside it.
2. pgbench runs the same three inserts (encounter, audit event, outbox row) as one transaction on
   the same PostgreSQL, with the same client count, half right before and half right after the
   app's flat-out phase → ratio app/raw.
3. The relay drains a pre-filled outbox to the Redis stream → events/s, against redis-benchmark
   XADD on the same Redis right before and after → ratio.
4. Resident memory of each web worker after the run.

Everything runs on its own databases (prefix ``pimlab_bench``) and the Redis database in
PIMLAB_BENCH_REDIS_DB (default 3); each phase is bounded, the whole run stays under a minute.
Needs PostgreSQL and Redis on 127.0.0.1 (scripts/ensure_services.sh), wrk, pgbench and
redis-benchmark (installed by scripts/ensure_services.d/30-bench-tools.sh).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.report import Figure, bench_report_write  # noqa: E402

# The percentiles the wrk script reports, in order.
PERCENTILES = (10, 25, 50, 75, 90, 99, 99.9)
PG = os.environ.get("PIMLAB_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PREFIX = os.environ.get("PIMLAB_BENCH_DB_PREFIX", "pimlab_bench")
REDIS_DB = os.environ.get("PIMLAB_BENCH_REDIS_DB", "3")
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
DATABASE_NAMES = {
    "catalog": f"{PREFIX}_catalog",
    "shard0": f"{PREFIX}_shard0",
    "shard1": f"{PREFIX}_shard1",
    "audit": f"{PREFIX}_audit",
}
CLIENTS = 2  # the same client count for wrk and pgbench
PATIENTS = 40
RELAY_EVENTS = 20_000


def bench_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIMLAB_", "OTEL_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "pimlab_portal.settings.production",
            "DJANGO_SECRET_KEY": "bench-only-secret",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PIMLAB_CATALOG_URL": f"{PG}/{DATABASE_NAMES['catalog']}",
            "PIMLAB_SHARD_URLS": f"{PG}/{DATABASE_NAMES['shard0']},{PG}/{DATABASE_NAMES['shard1']}",
            "PIMLAB_AUDIT_URL": f"{PG}/{DATABASE_NAMES['audit']}",
            "PIMLAB_EVENTBUS_URL": REDIS_URL,
            "PIMLAB_REDIS_URL": REDIS_URL,
            "PIMLAB_BROKER_URL": REDIS_URL,
            "PIMLAB_CONN_MAX_AGE": "600",
            "PIMLAB_VAR_DIR": str(Path(tempfile.gettempdir()) / "pimlab-bench-var"),
            "PIMLAB_LOG_LEVEL": "INFO",
            # Every span is still created and processed. Without an OTLP collector the spans are kept
            # in an in-process store instead; in production they leave through OTLP and are not kept.
            # Keeping the default 5,000 per worker measurably adds garbage-collection pauses (p99).
            "PIMLAB_SPAN_STORE_SIZE": os.environ.get("PIMLAB_BENCH_SPAN_STORE_SIZE", "500"),
        }
    )
    return env


def free_port() -> int:
    # Below the kernel's ephemeral range, so no client socket takes it meanwhile.
    for _ in range(100):
        port = random.randint(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


def ensure_databases() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        existing = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
        for name in DATABASE_NAMES.values():
            if name not in existing:
                connection.execute(f'CREATE DATABASE "{name}"')


def setup_django(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def shard_empty(alias: str) -> None:
    """Empty a shard of the bench's own databases (the audit table's guard lets this transaction truncate)."""
    from django.db import connections, transaction

    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute("SET LOCAL pimlab.allow_truncate = on")
        cursor.execute(
            "TRUNCATE encounters_encounter, encounters_historicalencounter, audits_auditevent, "
            "outbox_outboxevent, patients_careteammember, patients_historicalpatient, patients_patient CASCADE"
        )


def migrate_and_seed() -> tuple[list[tuple[str, int]], int]:
    """Schema, an empty workload, and PATIENTS patient personas with tokens: [(token, patient_id)]."""
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate_all", verbosity=0)
    for alias in ("shard_0", "shard_1"):
        shard_empty(alias)
    from django.contrib.auth import get_user_model

    from apps.core.models import Persona, PersonaRole
    from apps.core.tokens import api_token_issue
    from apps.patients.models import Patient

    get_user_model().objects.filter(username__startswith="bench-").delete()
    pairs = []
    shard0_patient = None
    for n in range(PATIENTS):
        patient = Patient(mrn=f"BENCH{n:05d}", given_name="Bench", family_name=f"Patient{n}", birth_date="1980-01-01")
        patient.assign_id(random.randrange(1024))
        patient.save()
        if patient._state.db == "shard_0" and shard0_patient is None:
            shard0_patient = patient.id
        user = get_user_model().objects.create_user(username=f"bench-{n}", password=None)
        Persona.objects.create(user=user, role=PersonaRole.PATIENT, patient_id=patient.id, display_name=f"bench {n}")
        pairs.append((api_token_issue(user=user), patient.id))
    if shard0_patient is None:
        patient = Patient(mrn="BENCH-S0", given_name="Bench", family_name="Shard0", birth_date="1980-01-01")
        patient.assign_id(1)
        patient.save()
        shard0_patient = patient.id
    connections.close_all()
    return pairs, shard0_patient


WRK_SCRIPT = """
local pairs_ = {%(pairs)s}
local counter = 0
local tid = 0
local prefix = "%(prefix)s"
setup = function(thread) tid = tid + 1; thread:set("tid", tid) end
init = function(args) tid = wrk.thread:get("tid") or 0 end
request = function()
  counter = counter + 1
  local p = pairs_[(counter %% #pairs_) + 1]
  local body = '{"patient_id":"' .. p[2] .. '","encounter_type":"telehealth","reason":"bench visit",'
    .. '"requested_start":"2031-01-01T09:00:00Z"}'
  return wrk.format("POST", "/api/encounters", {
    ["Authorization"] = "Token " .. p[1],
    ["Content-Type"] = "application/json",
    -- As the TLS-terminating proxy in front of production says; without it the production settings
    -- answer every request with a redirect to https (SECURE_SSL_REDIRECT) and nothing is booked.
    ["X-Forwarded-Proto"] = "https",
    ["Idempotency-Key"] = prefix .. "-" .. tid .. "-" .. counter,
  }, body)
end
%(delay)s
done = function(summary, latency, requests)
  io.write(string.format('BENCH {"requests":%%d,"duration_us":%%d,"bad_status":%%d,"socket_errors":%%d,'
    .. '"p50_us":%%d,"p99_us":%%d,"max_us":%%d,"percentiles_us":[%%d,%%d,%%d,%%d,%%d,%%d,%%d]}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max,
    latency:percentile(10), latency:percentile(25), latency:percentile(50), latency:percentile(75),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
"""


def wrk(port: int, pairs, seconds: float, tmp: Path, delay_ms: float | None = None, connections: int = 4) -> dict:
    script = tmp / f"wrk-{uuid.uuid4().hex[:6]}.lua"
    delay = f"delay = function() return {delay_ms:.3f} end" if delay_ms else ""
    script.write_text(
        WRK_SCRIPT
        % {
            "pairs": ",".join(f'{{"{t}","{p}"}}' for t, p in pairs),
            "prefix": uuid.uuid4().hex[:10],
            "delay": delay,
        }
    )
    result = run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s", "-s", str(script),
         f"http://127.0.0.1:{port}"]
    )  # fmt: skip
    line = next(line for line in result.stdout.splitlines() if line.startswith("BENCH "))
    figures = json.loads(line.removeprefix("BENCH "))
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


PGBENCH_SCRIPT = """
\\set eid random(1, 9000000000000000000)
\\set aid random(1, 9000000000000000000)
\\set oid random(1, 9000000000000000000)
BEGIN;
INSERT INTO encounters_encounter (id, patient_id, encounter_type, reason, requested_start, status, booked_by_user_id,
  idempotency_key, request_fingerprint, note_text, note_status, note_version, note_released, note_amendment_reason,
  created_at, updated_at)
  VALUES (:eid, :patient, 'telehealth', 'bench visit', '2031-01-01T09:00:00Z', 'booked', 1,
  'pgb-' || :eid, repeat('f', 64), '', 'empty', 0, false, '', now(), now());
INSERT INTO audits_auditevent (id, patient_id, occurred_at, action, outcome, resource_type, resource_id, actor_user_id,
  actor_role, request_id, trace_id, detail)
  VALUES (:aid, :patient, now(), 'encounter.booked', 'success', 'encounter', :eid, 1, 'patient',
  '9b1b7f8e-2a7c-4c3e-9a55-3f1f0a0b6c11', '4bf92f3577b34da6a3ce929d0e0e4736', '{"encounter_type": "telehealth"}');
INSERT INTO outbox_outboxevent (id, aggregate_type, aggregate_id, event_type, payload, headers, status, attempts,
  last_error, created_at)
  VALUES (:oid, 'patient', :patient, 'EncounterCreated',
  '{"encounter_id": "1", "patient_id": "1", "encounter_type": "telehealth", "requested_start": "2031-01-01T09:00:00+00:00", "status": "booked", "booked_by_user_id": "1", "booked_by_role": "patient"}',
  '{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "request_id": "9b1b7f8e", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "user_id": "1", "persona": "patient", "actor_role": "patient", "shard_id": "shard_0"}',
  'pending', 0, '', now());
END;
"""  # noqa: E501


def pgbench(patient_id: int, seconds: float, tmp: Path) -> dict:
    script = tmp / "three_inserts.sql"
    script.write_text(PGBENCH_SCRIPT)
    result = run(
        ["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-n", f"-c{CLIENTS}", f"-j{CLIENTS}",
         f"-T{max(1, round(seconds))}", "-D", f"patient={patient_id}", "-f", str(script), DATABASE_NAMES["shard0"]]
    )  # fmt: skip
    tps = float(re.search(r"tps = ([0-9.]+)", result.stdout).group(1))
    latency = re.search(r"latency average = ([0-9.]+) ms", result.stdout)
    return {"tps": tps, "latency_avg_ms": float(latency.group(1)) if latency else None}


def relay_throughput(patient_ids: list[int]) -> dict:
    from django.db import connections

    from apps.core.ids import bucket_of, new_id
    from apps.outbox.events import AggregateType, EventType
    from apps.outbox.models import OutboxEvent
    from apps.outbox.relay import outbox_relay_drain

    with connections["shard_0"].cursor() as cursor:
        cursor.execute("TRUNCATE outbox_outboxevent")
    headers = {
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "request_id": "9b1b7f8e-2a7c-4c3e-9a55-3f1f0a0b6c11",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "user_id": "1",
        "persona": "patient",
        "actor_role": "patient",
        "shard_id": "shard_0",
    }
    rows = []
    for n in range(RELAY_EVENTS):
        aggregate = patient_ids[n % len(patient_ids)]
        payload = {
            "encounter_id": str(n),
            "patient_id": str(aggregate),
            "encounter_type": "telehealth",
            "requested_start": "2031-01-01T09:00:00+00:00",
            "status": "booked",
            "booked_by_user_id": "1",
            "booked_by_role": "patient",
        }
        event = OutboxEvent(
            aggregate_type=AggregateType.PATIENT,
            aggregate_id=aggregate,
            event_type=EventType.ENCOUNTER_CREATED,
            payload=payload,
        )
        event.headers = headers
        event.id = new_id(bucket_of(aggregate))
        rows.append(event)
    OutboxEvent.objects.using("shard_0").bulk_create(rows, batch_size=2000)
    with connections["shard_0"].cursor() as cursor:
        # What autovacuum does after a bulk insert; without statistics the planner sorts the whole
        # backlog instead of walking the pending index.
        cursor.execute("ANALYZE outbox_outboxevent")
    started = time.perf_counter()
    # The relay task's batch size (the function's default).
    published = outbox_relay_drain(shard_alias="shard_0")
    elapsed = time.perf_counter() - started
    return {"events": published, "seconds": elapsed, "events_per_s": published / elapsed}


def raw_xadd() -> dict:
    result = run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", "6379", "--dbnum", REDIS_DB, "-n", "100000", "-c", "50", "-q",
         "XADD", "pimlab:bench:raw", "*", "event", "x" * 400]
    )  # fmt: skip
    match = re.search(r"([0-9.]+) requests per second", result.stdout)
    run(["redis-cli", "-n", REDIS_DB, "DEL", "pimlab:bench:raw"])
    return {"xadd_per_s": float(match.group(1))}


def worker_pids(master_pid: int) -> list[int]:
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if re.search(rf"^PPid:\s+{master_pid}$", status.read_text(), re.M):
                pids.append(int(status.parent.name))
        except OSError:
            continue
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the given processes (from /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def encounters_booked() -> int:
    """Encounters on the shards: what the flat-out phase really booked (a redirect or an error page
    answered fast would otherwise count as a booking)."""
    from django.db import connections

    total = 0
    for alias in ("shard_0", "shard_1"):
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM encounters_encounter")
            total += cursor.fetchone()[0]
    return total


def worker_rss_mb(master_pid: int) -> list[float]:
    sizes = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{master_pid}$", text, re.M):
            rss = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
            if rss:
                sizes.append(int(rss.group(1)) / 1024)
    return sorted(sizes)


@contextlib.contextmanager
def web_server(env: dict, tmp: Path, name: str, pairs, *, warm_up: bool = True):
    """gunicorn with the lab's own settings (Procfile ``web``: 2 sync workers, multiprocess metrics),
    listening and, unless told otherwise, warmed up by a short wrk run (imports, connections, shard
    map): yields (port, process); stopped with its process group afterwards."""
    port = free_port()
    web_log = (tmp / f"{name}.log").open("w")
    web = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "pimlab_portal" / "gunicorn.conf.py")],
        cwd=ROOT, env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2"},
        stdout=web_log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        if warm_up:
            wrk(port, pairs, 2, tmp)
        yield port, web
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        try:
            web.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(web.pid, signal.SIGKILL)
        web_log.close()


def booking_flat_out(port: int, pairs, seconds: float, tmp: Path, workers: list[int], patient_id: int):
    """Bookings flat out, bracketed by the raw baseline (half before, half after) so that load from
    other processes on the machine weighs on both sides of the ratio alike: (figures, pgbench runs)."""
    pgbench_runs = [pgbench(patient_id, seconds / 2, tmp)]
    cpu_before = cpu_seconds(workers)
    booked_before = encounters_booked()
    peak = wrk(port, pairs, seconds, tmp, connections=4)
    cpu_after = cpu_seconds(workers)
    peak["booked"] = encounters_booked() - booked_before
    pgbench_runs.append(pgbench(patient_id, seconds / 2, tmp))
    if peak["booked"] < peak["requests"] * 0.99:
        sys.exit(f"only {peak['booked']} of {peak['requests']} requests booked an encounter: see {tmp}")
    # CPU per request is what contention does not change much: it bounds the idle-machine ceiling.
    peak["web_cpu_ms_per_request"] = (cpu_after - cpu_before) * 1000 / max(1, peak["requests"])
    return peak, pgbench_runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phase-seconds", type=float, default=8, help="length of each load phase (default 8)")
    args = parser.parse_args()
    for tool in ("wrk", "pgbench", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: run `bash scripts/ensure_services.d/30-bench-tools.sh`")
    run_started = time.perf_counter()
    load_before = os.getloadavg()[0]
    env = bench_env()
    Path(env["PIMLAB_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    ensure_databases()
    setup_django(env)
    pairs, shard0_patient = migrate_and_seed()
    run(["redis-cli", "-n", REDIS_DB, "FLUSHDB"])
    tmp = Path(tempfile.mkdtemp(prefix="pimlab-bench-"))
    report: dict = {"phase_seconds": args.phase_seconds}
    # Production telemetry as configured: head sampling at the production default ratio
    # (PIMLAB_TRACES_SAMPLE_RATIO, 0.1), metrics and structured logs for every request.
    with web_server(env, tmp, "web-default", pairs) as (port, web):
        workers = worker_pids(web.pid)
        peak, pgbench_runs = booking_flat_out(port, pairs, args.phase_seconds, tmp, workers, shard0_patient)
        report["booking_max"] = peak
        half_rate = peak["rps"] / 2
        # Paced: each of CLIENTS connections waits between requests so that together they offer
        # about half the peak. A short probe measures the service time to subtract from the cycle.
        cycle_ms = CLIENTS * 1000 / half_rate
        probe = wrk(port, pairs, 2, tmp, delay_ms=cycle_ms / 2, connections=CLIENTS)
        service_ms = max(0.0, CLIENTS * 1000 / max(probe["rps"], 1e-9) - cycle_ms / 2)
        delay_ms = max(0.0, cycle_ms - service_ms)
        report["booking_half"] = wrk(port, pairs, args.phase_seconds, tmp, delay_ms=delay_ms, connections=CLIENTS)
        report["booking_half"]["target_rps"] = half_rate
        report["web_worker_rss_mb"] = worker_rss_mb(web.pid)
    # The same with every trace kept (100 % sampling), reported beside the default.
    with web_server({**env, "PIMLAB_TRACES_SAMPLE_RATIO": "1"}, tmp, "web-all-traces", pairs) as (port, web):
        peak_all, pgbench_all = booking_flat_out(
            port, pairs, args.phase_seconds, tmp, worker_pids(web.pid), shard0_patient
        )
    report["booking_max_all_traces"] = peak_all
    report["pgbench_all_traces"] = {"runs": pgbench_all, "tps": sum(r["tps"] for r in pgbench_all) / len(pgbench_all)}
    report["pgbench_three_inserts"] = {
        "runs": pgbench_runs,
        "tps": sum(r["tps"] for r in pgbench_runs) / len(pgbench_runs),
    }
    xadd_runs = [raw_xadd()]
    report["relay"] = relay_throughput([p for _, p in pairs])
    xadd_runs.append(raw_xadd())
    report["raw_xadd"] = {"runs": xadd_runs, "xadd_per_s": sum(r["xadd_per_s"] for r in xadd_runs) / len(xadd_runs)}
    run(["redis-cli", "-n", REDIS_DB, "FLUSHDB"])
    report["ratios"] = {
        "booking_rps_over_pgbench_tps": report["booking_max"]["rps"] / report["pgbench_three_inserts"]["tps"],
        "booking_rps_over_pgbench_tps_all_traces": peak_all["rps"] / report["pgbench_all_traces"]["tps"],
        "relay_events_over_raw_xadd": report["relay"]["events_per_s"] / report["raw_xadd"]["xadd_per_s"],
    }
    report["wall_seconds"] = time.perf_counter() - run_started
    half = report["booking_half"]
    pgbench_pair = ", ".join(f"{r['tps']:.0f}" for r in pgbench_runs)
    xadd_pair = ", ".join(f"{r['xadd_per_s']:.0f}" for r in xadd_runs)
    summary = [
        f"booking max: {peak['rps']:.0f} req/s (p50 {peak['p50_us'] / 1000:.1f} ms, p99 {peak['p99_us'] / 1000:.1f} ms,"
        f" booked {peak['booked']}, non-2xx {peak['bad_status']}, socket errors {peak['socket_errors']};"
        f" web worker CPU {peak['web_cpu_ms_per_request']:.1f} ms/request)",
        f"booking at ~half: {half['rps']:.0f} req/s (aimed at {half['target_rps']:.0f}),"
        f" p50 {half['p50_us'] / 1000:.1f} ms,"
        f" p99 {half['p99_us'] / 1000:.1f} ms (target p99 <= 25 ms)",
        f"pgbench 3 inserts/tx, {CLIENTS} clients: {report['pgbench_three_inserts']['tps']:.0f} tps"
        f" (before/after: {pgbench_pair})",
        f"ratio booking/pgbench: {report['ratios']['booking_rps_over_pgbench_tps']:.3f} (target >= 0.20;"
        f" head sampling at the production default {env.get('PIMLAB_TRACES_SAMPLE_RATIO', '0.1')})",
        f"every trace kept (100 %): booking {peak_all['rps']:.0f} req/s, web worker CPU"
        f" {peak_all['web_cpu_ms_per_request']:.1f} ms/request, pgbench {report['pgbench_all_traces']['tps']:.0f} tps,"
        f" ratio {report['ratios']['booking_rps_over_pgbench_tps_all_traces']:.3f}",
        f"relay: {report['relay']['events_per_s']:.0f} events/s; raw XADD (50 clients): "
        f"{report['raw_xadd']['xadd_per_s']:.0f}/s (before/after: {xadd_pair});"
        f" ratio {report['ratios']['relay_events_over_raw_xadd']:.3f}"
        " (target >= 0.15)",
        f"web worker RSS after run: {', '.join(f'{s:.0f}' for s in report['web_worker_rss_mb'])} MB (target <= 200)",
        f"wall time: {report['wall_seconds']:.0f} s; load average (1 min) before {load_before:.2f},"
        f" after {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores",
    ]
    print("\n".join(summary))
    bench_report_write(
        "booking-relay",
        [
            Figure(
                "booking req/s ÷ raw pgbench tps",
                value=peak["rps"],
                baseline=report["pgbench_three_inserts"]["tps"],
                target=0.20,
                unit="req/s",
            ),
            Figure(
                "booking req/s ÷ raw pgbench tps, every trace kept",
                value=peak_all["rps"],
                baseline=report["pgbench_all_traces"]["tps"],
                target=0.20,
                unit="req/s",
            ),
            Figure(
                "relay events/s ÷ raw XADD/s",
                value=report["relay"]["events_per_s"],
                baseline=report["raw_xadd"]["xadd_per_s"],
                target=0.20,
                unit="ev/s",
            ),
            Figure("p99 at half the peak", value=half["p99_us"] / 1000, target=25, unit="ms", higher_is_better=False),
            Figure(
                "web worker RSS (largest)",
                value=max(report["web_worker_rss_mb"] or [0]),
                target=200,
                unit="MB",
                higher_is_better=False,
            ),
        ],
        details=report,
        latency={
            phase: list(zip(PERCENTILES, [us / 1000 for us in report[key]["percentiles_us"]], strict=True))
            for phase, key in (("flat out", "booking_max"), ("half the peak", "booking_half"))
        },
    )


if __name__ == "__main__":
    main()
