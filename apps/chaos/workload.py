"""Background persona workload for drills, and what its journal says about RTO, RPO and errors.

The workload runs as its own process (``manage.py chaos_workload``) whose settings point one
shard at the HA pair through a multi-host URL, so a promotion is seen the way the app sees it.
Each attempt is one JSON line: start, end, ok, the id the write returned (acknowledged = the
commit or the 2xx answer reached the client) or the error. Two kinds:

- ``orm``: writes patients through the Django ORM on the shard alias (one connection per writer,
  reconnect with bounded back-off);
- ``http``: persona users book encounters through ``POST /api/encounters`` of a live server
  (token auth), retrying a booking with the same Idempotency-Key until it is answered 2xx. The
  process first creates its patients on the shard alias it is pointed at (buckets the shard map
  assigns to that alias) and a patient persona with an API token per writer in the catalog, so
  the server it talks to resolves those patients to the same database.

The ORM kind stays as a unit of comparison: the same fault seen by a bare connection, without
the app's own retries.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

BACKOFF_FIRST_SECONDS = 0.05
# The cap bounds the RTO's resolution: a writer tries again at most this long after a failure.
BACKOFF_MAX_SECONDS = 0.25

# Where each kind's acknowledged ids live on the shard (for the RPO check).
ACKNOWLEDGED_TABLE = {"orm": "patients_patient", "http": "encounters_encounter"}


def backoff_seconds(failures: int) -> float:
    """Doubling back-off, bounded: 50 ms, 100 ms, 200 ms, then 250 ms."""
    return min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * (2 ** max(0, failures - 1)))


class AttemptLog:
    def __init__(self, path: Path):
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()

    def write(self, **record) -> None:
        line = json.dumps(record)
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        self._file.close()


def run_orm_writer(*, alias: str, log: AttemptLog, stop: threading.Event, writer: int) -> None:
    from django.db import DatabaseError, connections, transaction

    from apps.patients.models import Patient

    failures = 0
    while not stop.is_set():
        started = time.time()
        patient = Patient(
            mrn=f"W{uuid.uuid4().hex[:18]}",
            given_name="Drill",
            family_name="Workload",
            birth_date="1980-01-01",
        )
        try:
            with transaction.atomic(using=alias):
                patient.save(using=alias)
        except DatabaseError as exc:
            failures += 1
            log.write(writer=writer, start=started, end=time.time(), ok=False, error=type(exc).__name__)
            # The connection may point at the dead leader: drop it so the next attempt reconnects
            # (libpq then tries each host and keeps the one that accepts read-write sessions).
            connections[alias].close()
            time.sleep(backoff_seconds(failures))
            continue
        failures = 0
        ended = time.time()
        # Which node acknowledged it: tells a write on the new leader from one on the old.
        port = connections[alias].connection.info.port if connections[alias].connection else None
        log.write(writer=writer, start=started, end=ended, ok=True, id=str(patient.id), port=port)


DRILL_PERSONA_PREFIX = "chaos-drill-patient"


def http_workload_prepare(*, alias: str, writers: int) -> list[tuple[str, str]]:
    """One patient on ``alias`` (a bucket the shard map gives to it) and its patient persona with an
    API token per writer; returns ``[(token, patient_id), …]``. Idempotent per writer index."""
    import random

    from apps.core.models import Persona, PersonaRole
    from apps.core.resolver import shard_buckets
    from apps.core.services import persona_user_ensure
    from apps.core.tokens import api_token_issue
    from apps.patients.models import Patient
    from apps.patients.services import patient_create

    buckets = shard_buckets().get(alias)
    if not buckets:
        raise RuntimeError(f"The shard map assigns no bucket to {alias}: nothing the app would route there.")
    pairs = []
    for writer in range(writers):
        username = f"{DRILL_PERSONA_PREFIX}-{writer:02d}"
        persona = Persona.objects.using("default").filter(user__username=username).first()
        patient = None
        if persona and persona.patient_id:
            patient = Patient.objects.using(alias).filter(pk=persona.patient_id).first()
        if patient is None:
            patient = patient_create(
                mrn=f"DRILL{uuid.uuid4().hex[:14].upper()}",
                given_name="Drill",
                family_name=f"Writer{writer:02d}",
                birth_date="1980-01-01",
                bucket=random.choice(buckets),
            )
        ensured = persona_user_ensure(
            username=username, role=PersonaRole.PATIENT, display_name=username, patient_id=patient.id
        )
        pairs.append((api_token_issue(user=ensured.user), str(patient.id)))
    return pairs


def run_http_writer(
    *, base_url: str, token: str, patient_ids: list[str], log: AttemptLog, stop: threading.Event, writer: int
) -> None:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    failures = 0
    sequence = 0
    while not stop.is_set():
        sequence += 1
        key = f"drill-{writer}-{uuid.uuid4().hex}"
        body = {
            "patient_id": patient_ids[sequence % len(patient_ids)],
            "encounter_type": "in_person",
            "reason": "Chaos drill workload",
            "requested_start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400 * 7)),
        }
        while not stop.is_set():
            started = time.time()
            try:
                response = session.post(
                    f"{base_url}/api/encounters", json=body, headers={"Idempotency-Key": key}, timeout=15
                )
                ok = 200 <= response.status_code < 300
                error = "" if ok else f"HTTP {response.status_code}"
                ident = str(response.json().get("id", "")) if ok else ""
            except (requests.RequestException, ValueError) as exc:
                ok, error, ident = False, type(exc).__name__, ""
            if ok:
                failures = 0
                log.write(writer=writer, start=started, end=time.time(), ok=True, id=ident, status=response.status_code)
                break
            failures += 1
            log.write(writer=writer, start=started, end=time.time(), ok=False, error=error)
            # Our own bounded back-off, not Retry-After (5 s): honouring it would blur the RTO by seconds.
            time.sleep(backoff_seconds(failures))


def run_workload(*, kind: str, out: Path, stop_file: Path, writers: int, duration: float, **options) -> None:
    """Run writers until ``stop_file`` appears or ``duration`` passes (the process's main loop)."""
    if kind not in ("orm", "http"):
        raise ValueError(f"Unknown workload kind {kind!r}; use orm or http.")
    personas: list[tuple[str, str]] = []
    if kind == "http" and not options.get("token"):
        personas = http_workload_prepare(alias=options["alias"], writers=writers)
    log = AttemptLog(out)
    stop = threading.Event()
    threads = []
    for writer in range(writers):
        if kind == "orm":
            target, kwargs = run_orm_writer, {"alias": options["alias"]}
        else:
            target = run_http_writer
            if personas:  # each writer is one patient persona booking for itself
                token, patient_id = personas[writer]
                kwargs = {"base_url": options["base_url"], "token": token, "patient_ids": [patient_id]}
            else:
                kwargs = {k: options[k] for k in ("base_url", "token", "patient_ids")}
        thread = threading.Thread(target=target, kwargs={**kwargs, "log": log, "stop": stop, "writer": writer})
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + duration
    try:
        while time.monotonic() < deadline and not stop_file.exists():
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        log.close()


# --- analysis -------------------------------------------------------------------------------


@dataclass
class WorkloadReport:
    attempts: int
    acknowledged: int
    errors: int
    error_ratio: float
    window_attempts: int
    window_errors: int
    window_error_ratio: float
    recovered_at: float | None
    rto_seconds: float | None
    acknowledged_ids: list[str]

    def as_dict(self) -> dict:
        data = dict(self.__dict__)
        data.pop("acknowledged_ids")
        return data


def read_attempts(path: Path) -> list[dict]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a killed writer
    return records


def first_success_after(records: list[dict], moment: float, *, port: int | None = None) -> dict | None:
    """The first acknowledged write that started after ``moment`` — on the node listening on ``port``
    when the workload reports ports (the new leader), so a write still landing on the old leader
    before a switchover does not count as recovery."""
    after = [
        r for r in records if r.get("ok") and r["start"] >= moment and (port is None or r.get("port") in (None, port))
    ]
    return min(after, key=lambda r: r["end"]) if after else None


def first_success_after_stall(records: list[dict], moment: float, *, settled_at: float | None = None) -> dict | None:
    """Recovery when the client cannot tell which node answered (the HTTP workload): the first
    acknowledged write after the longest write stall that followed ``moment``.

    A pod kill stalls every write from the kill until the promotion; a switchover lets writes reach
    the old leader until it demotes, then stalls until the new one takes them. Only acknowledgements
    up to the first write that started after ``settled_at`` (the moment the new leader was seen)
    are considered, so a later hiccup is never taken for the failover."""
    acks = sorted((r for r in records if r.get("ok") and r["end"] >= moment), key=lambda r: r["end"])
    if settled_at is not None:
        settled = [r for r in acks if r["start"] >= settled_at]
        if not settled:
            return None
        acks = [r for r in acks if r["end"] <= settled[0]["end"]]
    best, longest, previous = None, -1.0, moment
    for record in acks:
        gap = record["end"] - previous
        if gap > longest:
            best, longest = record, gap
        previous = record["end"]
    return best


def analyse(
    records: list[dict],
    *,
    fault_at: float | None,
    recovered_by: float | None = None,
    leader_port: int | None = None,
    after_outage: bool = False,
    settled_at: float | None = None,
) -> WorkloadReport:
    """``after_outage``: recovery only counts after the first failed attempt that followed the fault
    (a leader restarted in place keeps its port, and a write racing the crash may still commit).
    Records without a port (HTTP) use the longest stall after the fault instead."""
    acknowledged = [r for r in records if r.get("ok")]
    errors = [r for r in records if not r.get("ok")]
    with_ports = any(r.get("port") is not None for r in acknowledged)
    first = None
    since = fault_at
    failed_after: list[float] = []
    if fault_at and after_outage:
        failed_after = [r["start"] for r in errors if r["start"] >= fault_at]
        # No failure at all: the app's retries absorbed the outage; it shows as a write stall only,
        # which is over once the restarted node was seen (settled_at).
        since = min(failed_after) if failed_after else (fault_at if settled_at is not None else None)
    if since and not with_ports and after_outage:
        # Only writes started once the outage was seen: one in flight at the crash may be answered
        # just after it, and while the first failures are still being retried (and not yet logged)
        # it would pass for the recovery.
        started_after = [r for r in records if r["start"] >= since] if failed_after else records
        first = first_success_after_stall(started_after, since, settled_at=settled_at)
    elif since and not with_ports:
        first = first_success_after_stall(records, since, settled_at=settled_at)
    elif since:
        first = first_success_after(records, since, port=leader_port)
    window_end = recovered_by or (first["end"] if first else None)
    # Attempts in flight at the fault or started before recovery.
    window = [
        r for r in records if fault_at and r["end"] >= fault_at and (window_end is None or r["start"] <= window_end)
    ]
    window_errors = [r for r in window if not r.get("ok")]
    return WorkloadReport(
        attempts=len(records),
        acknowledged=len(acknowledged),
        errors=len(errors),
        error_ratio=round(len(errors) / len(records), 4) if records else 0.0,
        window_attempts=len(window),
        window_errors=len(window_errors),
        window_error_ratio=round(len(window_errors) / len(window), 4) if window else 0.0,
        recovered_at=first["end"] if first else None,
        rto_seconds=round(first["end"] - fault_at, 3) if first and fault_at else None,
        acknowledged_ids=[r["id"] for r in acknowledged],
    )


def missing_acknowledged(*, dsn: str, table: str, ids: list[str]) -> list[str]:
    """Acknowledged ids that do not exist on the (new) leader: the RPO, in writes."""
    if table not in ACKNOWLEDGED_TABLE.values():
        raise ValueError(f"Unexpected table {table!r}.")
    wanted = [int(i) for i in ids]
    found: set[int] = set()
    with psycopg.connect(dsn) as conn:
        for offset in range(0, len(wanted), 5000):
            chunk = wanted[offset : offset + 5000]
            rows = conn.execute(f"SELECT id FROM {table} WHERE id = ANY(%s)", [chunk]).fetchall()  # noqa: S608
            found.update(row[0] for row in rows)
    return [str(i) for i in wanted if i not in found]


def database_url(alias: str) -> str:
    """The URL of one configured database, as the PIMLAB_*_URL variables spell it."""
    from django.conf import settings

    db = settings.DATABASES[alias]
    if "sqlite" in db["ENGINE"]:
        return f"sqlite:///{db['NAME']}"
    user, host, port = db.get("USER") or "postgres", db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    if "," in str(host):  # a multi-host URL (an HA shard) keeps its host list and options
        hosts = ",".join(f"{h}:{p}" for h, p in zip(str(host).split(","), str(port).split(","), strict=True))
        options = "&".join(f"{k}={v}" for k, v in (db.get("OPTIONS") or {}).items())
        return f"postgres://{user}@{hosts}/{db['NAME']}" + (f"?{options}" if options else "")
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


def workload_env(*, shard_index: int, shard_url: str, base_env: dict | None = None) -> dict:
    """Environment for a workload process: this process's catalog, audit store and shards (the
    databases it really uses, test databases included), with ``shard_index`` on ``shard_url``."""
    from django.conf import settings

    env = dict(base_env or os.environ)
    urls = [
        shard_url if index == shard_index else database_url(alias) for index, alias in enumerate(settings.SHARD_ALIASES)
    ]
    while len(urls) <= shard_index:
        urls.append(shard_url)
    env["PIMLAB_SHARD_URLS"] = ",".join(urls)
    env["PIMLAB_CATALOG_URL"] = database_url("default")
    env["PIMLAB_AUDIT_URL"] = database_url("audit")
    return env
