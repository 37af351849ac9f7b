"""Cost flat as data grows: the same figures at a small and a large number of encounters.

    .venv/bin/python bench/data_growth.py [--sizes 10000 1000000] [--phase-seconds 6] [--requests 150]

The shards are grown by PostgreSQL itself (``bench/growth_seed.py``: INSERT ... SELECT
generate_series, consistent with the models' constraints; patients, encounters and claims spread
over every shard), first to the smallest size, then to each larger one; the seeding time is
printed. At each size, with the same method and the same gunicorn server (the lab's production
settings, as ``bench/booking_relay_bench.py`` runs it):

- booking: POST /api/encounters flat out under wrk ÷ pgbench running the same inserts (before and
  after), the ratio of ``make bench``;
- a clinician's worklist (GET /worklist) and a patient's "My visits" (GET /visits/), each
  requested ``--requests`` times one after the other with a logged-in persona's session cookie:
  median and p95 latency;
- claim submission: POST /api/claims for ``--claims`` finished, unclaimed grown visits, one after
  the other: claims/s.

The personas' own lists keep the same size at every step (grown rows belong to other patients
and clinicians), so any change is the cost of the data around them. The table gives each figure
at both sizes and the ratio (large ÷ small for rates, small ÷ large for latencies: 1.0 = flat),
against the target ≥ 0.90; the same goes to ``var/bench/data-growth-<time>.json`` with the load
average and core count. Databases: prefix ``pimlab_growth`` (PIMLAB_BENCH_DB_PREFIX), Redis
database PIMLAB_BENCH_REDIS_DB (default 4).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PIMLAB_BENCH_DB_PREFIX", "pimlab_growth")
os.environ.setdefault("PIMLAB_BENCH_REDIS_DB", "4")
from bench import booking_relay_bench as booking  # noqa: E402
from bench.growth_seed import buckets_of, grow_shard  # noqa: E402

TARGET = 0.90
REFUSALS: dict[str, str] = {}
PERSONA_VISITS = 30


def growth_env() -> dict:
    env = booking.bench_env()
    env.update(
        {
            # Plain HTTP on loopback, and a claims rate limit the bench does not run into.
            "PIMLAB_SSL_REDIRECT": "0",
            "PIMLAB_CLAIMS_RATE_LIMIT": "1000000",
        }
    )
    return env


def personas_seed() -> dict:
    """A patient with ``PERSONA_VISITS`` visits (half past, half ahead), a clinician on their care
    team and assigned to them, a billing admin; session cookies and a token to act as them."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from apps.core.actors import Actor
    from apps.core.models import Persona, PersonaRole
    from apps.core.tokens import api_token_issue
    from apps.encounters.models import Encounter, EncounterStatus
    from apps.patients.models import Patient
    from apps.patients.services import care_team_member_add

    users = get_user_model().objects
    patient = Patient(mrn="BENCH-GROWTH", given_name="Growth", family_name="Persona", birth_date="1975-05-05")
    patient.assign_id(buckets_of("shard_0")[0])
    patient.save()
    patient_user = users.create_user(username="bench-growth-patient", password=None)
    Persona.objects.create(user=patient_user, role=PersonaRole.PATIENT, patient_id=patient.id, display_name="patient")
    clinician = users.create_user(username="bench-growth-clinician", password=None)
    Persona.objects.create(user=clinician, role=PersonaRole.CLINICIAN, display_name="clinician")
    billing = users.create_user(username="bench-growth-billing", password=None)
    Persona.objects.create(user=billing, role=PersonaRole.BILLING_ADMIN, display_name="billing")
    care_team_member_add(actor=Actor.system("bench"), patient_id=patient.id, clinician_user_id=clinician.pk)
    now = timezone.now()
    for day in range(-PERSONA_VISITS // 2, PERSONA_VISITS // 2):
        Encounter(
            patient=patient, encounter_type="in_person", reason="Persona visit",
            requested_start=now + timedelta(days=day, hours=1),
            status=EncounterStatus.FINISHED if day < 0 else EncounterStatus.BOOKED,
            booked_by_user_id=patient_user.pk, clinician_user_id=clinician.pk if day % 2 else None,
            idempotency_key=uuid.uuid4().hex, request_fingerprint="0" * 64,
        ).save(using=patient._state.db)  # fmt: skip

    def session(user) -> str:
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client.cookies["sessionid"].value

    return {
        "patient_cookie": session(patient_user),
        "clinician_cookie": session(clinician),
        "billing_token": api_token_issue(user=billing),
    }


def grow_to(size: int, grown: dict) -> dict:
    """Grow every shard to its share of ``size`` grown encounters; VACUUM ANALYZE like autovacuum."""
    from django.conf import settings
    from django.db import connections

    shards = list(settings.SHARD_ALIASES)
    started = time.perf_counter()
    counts = {}
    for index, alias in enumerate(shards):
        target = size // len(shards)
        with connections[alias].cursor() as cursor:
            result = grow_shard(
                cursor, buckets=buckets_of(alias), start=grown.get(alias, 0), stop=target, tag=f"s{index}"
            )
            cursor.execute("VACUUM ANALYZE encounters_encounter")
            cursor.execute("VACUUM ANALYZE claims_claim")
            cursor.execute("SELECT count(*) FROM encounters_encounter")
            counts[alias] = cursor.fetchone()[0]
        grown[alias] = max(target, grown.get(alias, 0))
        del result
    return {"seconds": time.perf_counter() - started, "encounters": counts, "total": sum(counts.values())}


def request(port: int, method: str, path: str, headers: dict, body: bytes | None = None) -> tuple[int, float]:
    """(status, seconds) of one request on a new connection (sync workers close each connection);
    the first refusal of each status is kept in ``REFUSALS`` for the report."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Host": "127.0.0.1", **headers})
        response = connection.getresponse()
        answer = response.read()
        elapsed = time.perf_counter() - started
        if response.status >= 400:
            REFUSALS.setdefault(f"{method} {path} {response.status}", answer[:500].decode(errors="replace"))
        return response.status, elapsed
    finally:
        connection.close()


BASELINE_PATH = "/healthz"


def _median_p95(timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings)
    return statistics.median(timings), timings[int(0.95 * (len(timings) - 1))]


def page_latency(port: int, path: str, cookie: str, requests: int) -> dict:
    """Median and p95 of ``path``, each request followed by one to ``BASELINE_PATH`` (the server's
    floor: no database), so both are sampled under the same load from the rest of the machine."""
    headers = {"Cookie": f"sessionid={cookie}"}
    for _ in range(5):  # warm-up
        request(port, "GET", path, headers)
    timings, floor, bad = [], [], 0
    for _ in range(requests):
        status, seconds = request(port, "GET", path, headers)
        bad += status != 200
        timings.append(seconds * 1000)
        floor.append(request(port, "GET", BASELINE_PATH, {})[1] * 1000)
    median, p95 = _median_p95(timings)
    floor_median, _ = _median_p95(floor)
    return {
        "median_ms": median,
        "p95_ms": p95,
        "baseline_median_ms": floor_median,
        "relative": median / floor_median,
        "requests": requests,
        "non_200": bad,
    }


def unclaimed_visits(count: int) -> list[tuple[int, int]]:
    """(patient id, encounter id) of grown finished visits without a claim, spread over the shards."""
    from django.conf import settings
    from django.db import connections

    from bench.growth_seed import GROWN_USER_BASE

    shards = list(settings.SHARD_ALIASES)
    visits = []
    for alias in shards:
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT patient_id, id FROM encounters_encounter e WHERE status = 'finished'"
                " AND booked_by_user_id = %s AND NOT EXISTS (SELECT 1 FROM claims_claim c WHERE c.encounter_id = e.id)"
                " ORDER BY random() LIMIT %s",
                [GROWN_USER_BASE, -(-count // len(shards))],
            )
            visits.extend(cursor.fetchall())
    return visits[:count]


def claim_rate(port: int, token: str, visits: list[tuple[int, int]]) -> dict:
    timings, floor, bad = [], [], 0
    started = time.perf_counter()
    for patient_id, encounter_id in visits:
        body = json.dumps(
            {
                "patient_id": str(patient_id),
                "encounter_id": str(encounter_id),
                "payer_code": "ACME-HEALTH",
                "line_items": [
                    {"procedure_code": "99213", "diagnosis_codes": ["I10"], "units": 1, "unit_price": "95.00"}
                ],
            }
        ).encode()
        headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
        }
        status, seconds = request(port, "POST", "/api/claims", headers, body)
        bad += status != 202  # accepted: persisted, the projection follows
        timings.append(seconds * 1000)
        floor.append(request(port, "GET", BASELINE_PATH, {})[1] * 1000)
    elapsed = time.perf_counter() - started
    median, _ = _median_p95(timings)
    floor_median, _ = _median_p95(floor)
    return {
        "claims": len(visits),
        "claims_per_s": len(visits) / (elapsed - sum(floor) / 1000),
        "median_ms": median,
        "baseline_median_ms": floor_median,
        "relative": median / floor_median,
        "non_202": bad,
    }


def booking_ratio(port: int, pairs, shard0_patient: int, seconds: float, tmp: Path) -> dict:
    runs = [booking.pgbench(shard0_patient, seconds / 2, tmp)]
    peak = booking.wrk(port, pairs, seconds, tmp, connections=4)
    runs.append(booking.pgbench(shard0_patient, seconds / 2, tmp))
    tps = sum(r["tps"] for r in runs) / len(runs)
    return {
        "rps": peak["rps"],
        "non_2xx": peak["bad_status"],
        "socket_errors": peak["socket_errors"],
        "pgbench_tps": tps,
        "ratio": peak["rps"] / tps,
    }


def measure(port: int, personas: dict, pairs, shard0_patient: int, args, tmp: Path, *, scale: float = 1) -> dict:
    requests, claims = max(5, int(args.requests * scale)), max(5, int(args.claims * scale))
    return {
        "booking": booking_ratio(port, pairs, shard0_patient, max(2, args.phase_seconds * scale), tmp),
        "worklist": page_latency(port, "/worklist", personas["clinician_cookie"], requests),
        "my_visits": page_latency(port, "/visits/", personas["patient_cookie"], requests),
        "claims": claim_rate(port, personas["billing_token"], unclaimed_visits(claims)),
    }


def server_ready(port: int, token: str, patient_id: int, timeout: float = 120) -> float:
    """Seconds until both workers have answered a booking: a worker's first request imports and
    connects, which must not count against the first size measured."""
    started = time.monotonic()
    answered = 0
    while time.monotonic() - started < timeout:
        body = json.dumps(
            {
                "patient_id": str(patient_id),
                "encounter_type": "telehealth",
                "reason": "bench warm-up",
                "requested_start": "2031-01-01T09:00:00Z",
            }
        ).encode()
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        try:
            status, _ = request(port, "POST", "/api/encounters", {**headers, "Idempotency-Key": uuid.uuid4().hex}, body)
        except OSError:
            time.sleep(0.5)
            continue
        answered += status == 202
        if answered >= 4:
            return time.monotonic() - started
    raise RuntimeError(f"the web server did not answer bookings within {timeout:.0f} s")


# (figure, how to read it from a measurement, higher is better, judged against the target):
# the judged figures are ratios to a baseline sampled alongside (pgbench, the /healthz floor), so
# load from the rest of the machine weighs on both sides; the raw figures are shown beside them.
FIGURES = [
    ("booking req/s ÷ pgbench tps", lambda m: m["booking"]["ratio"], True, True),
    ("worklist median ÷ /healthz median", lambda m: m["worklist"]["relative"], False, True),
    ("my visits median ÷ /healthz median", lambda m: m["my_visits"]["relative"], False, True),
    ("claim submit median ÷ /healthz median", lambda m: m["claims"]["relative"], False, True),
    ("booking req/s (raw)", lambda m: m["booking"]["rps"], True, False),
    ("worklist median ms (raw)", lambda m: m["worklist"]["median_ms"], False, False),
    ("worklist p95 ms (raw)", lambda m: m["worklist"]["p95_ms"], False, False),
    ("my visits median ms (raw)", lambda m: m["my_visits"]["median_ms"], False, False),
    ("my visits p95 ms (raw)", lambda m: m["my_visits"]["p95_ms"], False, False),
    ("claim submissions/s (raw)", lambda m: m["claims"]["claims_per_s"], True, False),
]


def growth_table(small: int, large: int, small_m: dict, large_m: dict) -> tuple[str, list[dict]]:
    rows = [("figure", f"{small:,}", f"{large:,}", "ratio", "target", "met?")]
    figures = []
    for name, read, higher, judged in FIGURES:
        a, b = read(small_m), read(large_m)
        ratio = (b / a if higher else a / b) if a and b else None
        met = ratio is not None and ratio >= TARGET if judged else None
        target = TARGET if judged else None
        figures.append({"name": name, "small": a, "large": b, "ratio": ratio, "target": target, "met": met})
        shown = f"{ratio:.3f}" if ratio else "–"
        verdict = "–" if met is None else "yes" if met else "NO"
        rows.append((name, f"{a:,.3f}", f"{b:,.3f}", shown, f"≥ {TARGET}" if judged else "–", verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines), figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000], help="encounters (default 10k 1M)")
    parser.add_argument("--phase-seconds", type=float, default=6, help="booking phase length (default 6)")
    parser.add_argument("--requests", type=int, default=150, help="page requests per figure (default 150)")
    parser.add_argument("--claims", type=int, default=150, help="claims submitted per size (default 150)")
    args = parser.parse_args()
    sizes = sorted(set(args.sizes))
    if len(sizes) < 2:
        parser.error("give at least two sizes")
    for tool in ("wrk", "pgbench"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: run `bash scripts/ensure_services.d/30-bench-tools.sh`")
    load_before = os.getloadavg()
    out_dir = Path(os.environ.get("PIMLAB_VAR_DIR", ROOT / "var")) / "bench"
    env = growth_env()
    Path(env["PIMLAB_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    booking.ensure_databases()
    booking.setup_django(env)
    pairs, shard0_patient = booking.migrate_and_seed()
    from django.db import connections

    personas = personas_seed()
    booking.run(["redis-cli", "-n", booking.REDIS_DB, "FLUSHDB"])
    tmp = Path(tempfile.mkdtemp(prefix="pimlab-growth-"))
    report: dict = {"sizes": sizes, "args": vars(args), "seeding": {}, "measurements": {}}
    grown: dict = {}
    with booking.web_server(env, tmp, "web", pairs, warm_up=False) as (port, _):
        report["ready_seconds"] = server_ready(port, *pairs[0])
        for size in sizes:
            seeding = grow_to(size, grown)
            connections.close_all()
            report["seeding"][size] = seeding
            print(
                f"grew to {size:,} encounters in {seeding['seconds']:.1f} s"
                f" (rows on the shards: {seeding['encounters']})",
                flush=True,
            )
            if size == sizes[0]:
                # A discarded pass first: every page and query path warm in both workers.
                report["warm_up"] = measure(port, personas, pairs, shard0_patient, args, tmp, scale=0.3)
            booking.wrk(port, pairs, 2, tmp)  # warm-up
            report["measurements"][size] = measure(port, personas, pairs, shard0_patient, args, tmp)
            connections.close_all()
            print(f"measured at {size:,}: {json.dumps(report['measurements'][size])}", flush=True)
    report["refusals"] = REFUSALS
    for refusal, body in REFUSALS.items():
        print(f"refused: {refusal}: {body}")
    small, large = sizes[0], sizes[-1]
    table, figures = growth_table(small, large, report["measurements"][small], report["measurements"][large])
    print(table)
    seeded = ", ".join(f"{size:,}: {s['seconds']:.1f} s" for size, s in report["seeding"].items())
    print(f"seeding (cumulative growth per step): {seeded}")
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = out_dir / f"data-growth-{stamp}.json"
    document = {
        "bench": "data-growth",
        "at": stamp,
        "cores": os.cpu_count(),
        "load_average_before": load_before,
        "load_average": os.getloadavg(),
        "figures": figures,
        "details": report,
    }
    path.write_text(json.dumps(document, indent=2, default=str))
    print(f"load average {load_before[0]:.2f} → {document['load_average'][0]:.2f} on {os.cpu_count()} cores; {path}")


if __name__ == "__main__":
    main()
