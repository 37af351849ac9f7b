"""Projection pipeline benchmark (not a test). Each phase is bounded to 60 s of wall time.

    PIMLAB_TEST_DB_PREFIX=pimlab_claims_bench PIMLAB_TEST_REDIS_DB=5 \\
        .venv/bin/python bench/projection_bench.py [steady|throughput|rebuild|rebuild-outbox|all]

- steady:     a producer publishes EncounterCreated + ClaimSubmitted envelopes at a steady claim rate
              (--rate claims/s, --seconds) with ``occurred_at`` = publish time; one projection worker
              with full telemetry (per-event spans and logs) applies them. Reports applied events/s and
              the commit→applied lag p50/p99 (measured after the batch commits and is acknowledged).
- throughput: pre-fills the streams, drains them with one worker and reports events/s against a raw
              XRANGE read of the same streams in the same run (ratio); then the same with every trace
              kept (100 %), in a second process, reported beside it.
- rebuild:    pre-fills 100,000 events and times ``read_models_rebuild`` against a raw XRANGE read of the
              same streams in the same run (ratio).
- rebuild-outbox: the same events also written as published outbox rows on the shards; times the rebuild
              from the outbox (what ``projections_rebuild`` does) against the rebuild from the streams
              in the same run (ratio).

Telemetry is production's: head sampling at the production default (--sample-ratio, 0.1) and envelopes
whose headers carry the producing request's correlation ids and W3C traceparent, its sampled flag set as
that request's sampler would have set it. Log level WARNING unless PIMLAB_LOG_LEVEL says otherwise.

It uses the test settings on its own databases (created and migrated on first use) and deletes only the
projection's streams in its Redis database. The envelopes skip the API and relay on purpose: the bench
isolates the projection worker.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimlab_portal.settings.test")
os.environ.setdefault("PIMLAB_TEST_DB_PREFIX", "pimlab_claims_bench")
os.environ.setdefault("PIMLAB_LOG_LEVEL", "WARNING")
PRODUCTION_SAMPLE_RATIO = 0.1

PHASE_LIMIT_SECONDS = 60


def setup_django() -> None:
    import django
    import psycopg
    from django.conf import settings

    django.setup()
    for alias, config in settings.DATABASES.items():
        admin = psycopg.connect(
            host=config["HOST"], port=config["PORT"], user=config["USER"], dbname="postgres", autocommit=True
        )
        with admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
            if not exists:
                admin.execute(f'CREATE DATABASE "{config["NAME"]}"')
                print(f"created database {config['NAME']} for {alias}")
    from django.core.management import call_command

    call_command("migrate_all", verbosity=0)


def reset_state(bus) -> None:
    from apps.projections.events import DEAD_LETTER_STREAM, STREAMS
    from apps.projections.models import (
        ClaimFact,
        EncounterFact,
        FinancialDailyAggregate,
        ProcessedEvent,
        ProjectionCheckpoint,
    )

    bus.client.delete(*STREAMS, DEAD_LETTER_STREAM)
    for model in (FinancialDailyAggregate, ClaimFact, EncounterFact, ProcessedEvent, ProjectionCheckpoint):
        model.objects.using("default").all().delete()


def producer_headers(rng: random.Random, *, persona: str) -> dict:
    """What the outbox records with an event: the request's correlation ids and its traceparent, sampled
    as the request's parent-based ratio sampler decides (TraceIdRatioBased: low 64 bits of the trace id
    under ratio * 2**64)."""
    from django.conf import settings

    trace_id, span_id = rng.getrandbits(128) | 1, rng.getrandbits(64) | 1
    sampled = (trace_id & (2**64 - 1)) < round(settings.PIMLAB_TRACES_SAMPLE_RATIO * 2**64)
    return {
        "traceparent": f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}",
        "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "trace_id": f"{trace_id:032x}",
        "user_id": str(rng.randrange(1, 200)),
        "persona": persona,
        "actor_role": persona,
        "shard_id": f"shard_{rng.randrange(2)}",
    }


def claim_pair(index: int, *, committed, rng: random.Random) -> list[dict]:
    from apps.outbox.events import EventType

    start = committed - timedelta(hours=rng.randrange(1, 72))
    encounter_id, claim_id = 1_000_000 + index, 5_000_000 + index
    common = {"aggregate_type": "patient", "aggregate_id": str(100 + index % 997)}
    return [
        {
            **common,
            "headers": producer_headers(rng, persona="patient"),
            "event_id": f"e{index}",
            "event_type": EventType.ENCOUNTER_CREATED.value,
            "occurred_at": committed.isoformat(),
            "payload": {
                "encounter_id": str(encounter_id),
                "patient_id": common["aggregate_id"],
                "encounter_type": "in_person",
                "requested_start": start.isoformat(),
                "status": "booked",
            },
        },
        {
            **common,
            "headers": producer_headers(rng, persona="billing_admin"),
            "event_id": f"c{index}",
            "event_type": EventType.CLAIM_SUBMITTED.value,
            "occurred_at": committed.isoformat(),
            "payload": {
                "claim_id": str(claim_id),
                "patient_id": common["aggregate_id"],
                "encounter_id": str(encounter_id),
                "payer_code": rng.choice(["ACME-HEALTH", "MEDICARE", "BLUE-RIVER", "SELF-PAY"]),
                "status": "submitted",
                "currency": "USD",
                "total_amount": str(Decimal(rng.randrange(1000, 90000)) / 100),
                "line_item_count": 2,
                "retention_class": "standard",
                "submitted_at": committed.isoformat(),
            },
        },
    ]


def prefill(bus, *, claims: int, paid_share: float = 0.3) -> int:
    from django.utils import timezone

    from apps.outbox.events import EventType

    rng = random.Random(1)
    committed = timezone.now() - timedelta(days=1)
    batch, published = [], 0
    for index in range(claims):
        batch += claim_pair(index, committed=committed + timedelta(milliseconds=index), rng=rng)
        if rng.random() < paid_share:
            batch.append(
                {
                    "event_id": f"p{index}",
                    "event_type": EventType.CLAIM_PAID.value,
                    "aggregate_type": "patient",
                    "aggregate_id": "1",
                    "occurred_at": committed.isoformat(),
                    "headers": producer_headers(rng, persona="billing_admin"),
                    "payload": {
                        "claim_id": str(5_000_000 + index),
                        "patient_id": "1",
                        "paid_amount": "10.00",
                        "paid_at": (committed + timedelta(days=1)).isoformat(),
                    },
                }
            )
        if len(batch) >= 2000:
            bus.publish_batch(batch)
            published += len(batch)
            batch = []
    if batch:
        bus.publish_batch(batch)
        published += len(batch)
    return published


def raw_xrange_seconds(bus) -> tuple[float, int]:
    from apps.projections.events import STREAMS

    started, read = time.perf_counter(), 0
    for stream in STREAMS:
        last = "-"
        while True:
            entries = bus.client.xrange(stream, min=last, count=5000)
            if last != "-":
                entries = entries[1:] if entries and entries[0][0].decode() == last else entries
            if not entries:
                break
            read += len(entries)
            last = entries[-1][0].decode()
    return time.perf_counter() - started, read


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def phase_steady(bus, *, rate: int, seconds: int) -> None:
    from django.db import connections
    from django.utils import timezone

    from apps.projections.consumer import ProjectionConsumer

    reset_state(bus)
    stop = threading.Event()
    lags: list[float] = []
    applied = [0]

    def consume():
        worker = ProjectionConsumer(bus=bus, consumer="bench-steady", batch_size=500, block_ms=20)
        try:
            while not stop.is_set():
                outcome = worker.run_once()
                lags.extend(lag for lag in outcome.lags_seconds)
                applied[0] += outcome.applied
        finally:
            connections.close_all()

    consumer = threading.Thread(target=consume)
    consumer.start()
    rng = random.Random(2)
    tick = 0.01
    per_tick = rate * tick
    owed, index = 0.0, 0
    started = time.perf_counter()
    next_tick = started
    while time.perf_counter() - started < seconds:
        owed += per_tick
        batch = []
        while owed >= 1:
            batch += claim_pair(index, committed=timezone.now(), rng=rng)
            index += 1
            owed -= 1
        if batch:
            bus.publish_batch(batch)
        next_tick += tick
        time.sleep(max(0.0, next_tick - time.perf_counter()))
    produced_for = time.perf_counter() - started
    deadline = time.perf_counter() + 15
    while applied[0] < index * 2 and time.perf_counter() < deadline:
        time.sleep(0.05)
    stop.set()
    consumer.join()
    elapsed = time.perf_counter() - started
    print(
        f"steady: offered {index} claims ({index * 2} events) in {produced_for:.1f} s = "
        f"{index / produced_for:.0f} claims/s; applied {applied[0]} events in {elapsed:.1f} s"
    )
    if lags:
        print(
            f"steady: commit→applied lag p50 {statistics.median(lags) * 1000:.0f} ms, "
            f"p99 {percentile(lags, 0.99) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms over {len(lags)} events"
        )


def phase_throughput(bus, *, claims: int) -> None:
    from apps.projections.consumer import ProjectionConsumer

    reset_state(bus)
    events = prefill(bus, claims=claims)
    raw_seconds, raw_read = raw_xrange_seconds(bus)
    worker = ProjectionConsumer(bus=bus, consumer="bench-drain", batch_size=500, trace_events=True)
    started, cpu_started = time.perf_counter(), time.process_time()
    applied = worker.drain(max_batches=100_000)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    from django.conf import settings

    print(
        f"throughput (traces sampled at {settings.PIMLAB_TRACES_SAMPLE_RATIO:g}): {applied}/{events} events "
        f"applied in {seconds:.2f} s = {applied / seconds:.0f} events/s; "
        f"raw XRANGE read {raw_read} in {raw_seconds:.2f} s = {raw_read / raw_seconds:.0f} events/s; "
        f"ratio {(applied / seconds) / (raw_read / raw_seconds):.3f}; "
        # Less sensitive to other load on the machine than the wall time (PostgreSQL's and Redis's excluded).
        f"worker CPU {cpu_seconds * 1e6 / max(applied, 1):.0f} µs/event"
    )


def bus_history(bus, *, batch_size: int):
    """The streams as the rebuild's history (the envelopes skip the outbox, as everywhere in this bench)."""
    from apps.projections.events import STREAMS

    for stream in STREAMS:
        after = "0"
        while messages := bus.read_range(stream, after_id=after, count=batch_size):
            after = messages[-1].message_id
            yield stream, [message.event for message in messages]


def phase_rebuild(bus, *, events_target: int) -> None:
    from apps.projections.services import read_models_rebuild

    reset_state(bus)
    events = prefill(bus, claims=int(events_target / 2.3) + 1)
    raw_seconds, raw_read = raw_xrange_seconds(bus)
    started = time.perf_counter()
    result = read_models_rebuild(batch_size=5000, history=bus_history(bus, batch_size=5000))
    seconds = time.perf_counter() - started
    print(
        f"rebuild: {result.events_applied}/{events} events in {seconds:.2f} s = "
        f"{result.events_applied / seconds:.0f} events/s; raw XRANGE read {raw_read} in {raw_seconds:.2f} s; "
        f"rebuild/raw time ratio {seconds / raw_seconds:.1f}"
    )


def outbox_copy(bus) -> int:
    """Write every envelope on the projection's streams as a published outbox row on some shard."""
    from django.utils import timezone

    from apps.core.ids import BUCKET_COUNT, new_id
    from apps.core.resolver import shard_for_id
    from apps.outbox.models import OutboxEvent, OutboxStatus

    per_shard: dict[str, list] = {}
    now = timezone.now()
    for index, (_, envelopes) in enumerate(bus_history(bus, batch_size=5000)):
        for offset, envelope in enumerate(envelopes):
            aggregate_id = new_id((index * 5000 + offset) % BUCKET_COUNT)
            per_shard.setdefault(shard_for_id(aggregate_id), []).append(
                OutboxEvent(
                    id=new_id((index * 5000 + offset) % BUCKET_COUNT),
                    aggregate_type="patient",
                    aggregate_id=aggregate_id,
                    event_type=envelope["event_type"],
                    payload=envelope["payload"],
                    status=OutboxStatus.PUBLISHED,
                    published_at=now,
                )
            )
    for alias, rows in per_shard.items():
        OutboxEvent.objects.using(alias).all().delete()
        OutboxEvent.objects.using(alias).bulk_create(rows, batch_size=2000)
    return sum(len(rows) for rows in per_shard.values())


def phase_rebuild_outbox(bus, *, events_target: int) -> None:
    from apps.projections.services import read_models_rebuild

    reset_state(bus)
    events = prefill(bus, claims=int(events_target / 2.3) + 1)
    rows = outbox_copy(bus)
    started = time.perf_counter()
    from_bus = read_models_rebuild(batch_size=5000, history=bus_history(bus, batch_size=5000))
    bus_seconds = time.perf_counter() - started
    started = time.perf_counter()
    from_outbox = read_models_rebuild(batch_size=5000)
    outbox_seconds = time.perf_counter() - started
    print(
        f"rebuild-outbox: {from_outbox.events_applied}/{rows} outbox rows in {outbox_seconds:.2f} s "
        f"({from_outbox.events_applied / outbox_seconds:.0f} events/s); from the streams "
        f"{from_bus.events_applied}/{events} in {bus_seconds:.2f} s; outbox/streams time ratio "
        f"{outbox_seconds / bus_seconds:.2f}"
    )


def bounded(name: str, function, **kwargs) -> None:
    def too_long(*_):
        raise TimeoutError(f"{name} exceeded {PHASE_LIMIT_SECONDS} s")

    signal.signal(signal.SIGALRM, too_long)
    signal.alarm(PHASE_LIMIT_SECONDS)
    try:
        function(**kwargs)
    finally:
        signal.alarm(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "phase", choices=["steady", "throughput", "rebuild", "rebuild-outbox", "all"], nargs="?", default="all"
    )
    parser.add_argument("--rate", type=int, default=200, help="claims per second in the steady phase")
    parser.add_argument("--seconds", type=int, default=20, help="length of the steady phase")
    parser.add_argument("--claims", type=int, default=10_000, help="claims pre-filled for the throughput phase")
    parser.add_argument("--rebuild-events", type=int, default=100_000)
    parser.add_argument(
        "--sample-ratio",
        type=float,
        default=float(os.environ.get("PIMLAB_TRACES_SAMPLE_RATIO", PRODUCTION_SAMPLE_RATIO)),
        help="head sampling ratio of traces (producers' and the worker's); the production default is 0.1",
    )
    parser.add_argument(
        "--no-all-traces", action="store_true", help="skip the throughput run with every trace kept (100 %%)"
    )
    args = parser.parse_args()
    # Read by the settings, so set before Django starts.
    os.environ["PIMLAB_TRACES_SAMPLE_RATIO"] = str(args.sample_ratio)
    setup_django()
    from apps.outbox.eventbus import get_event_bus

    bus = get_event_bus()
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()}")
    if args.phase in ("steady", "all"):
        bounded("steady", phase_steady, bus=bus, rate=args.rate, seconds=args.seconds)
    if args.phase in ("throughput", "all"):
        bounded("throughput", phase_throughput, bus=bus, claims=args.claims)
        if args.sample_ratio < 1 and not args.no_all_traces:
            # The tracer provider is set once per process: every trace kept needs a process of its own.
            all_traces = [sys.executable, __file__, "throughput", "--claims", str(args.claims)]
            subprocess.run([*all_traces, "--sample-ratio", "1", "--no-all-traces"], check=True)
    if args.phase in ("rebuild", "all"):
        bounded("rebuild", phase_rebuild, bus=bus, events_target=args.rebuild_events)
    if args.phase in ("rebuild-outbox", "all"):
        bounded("rebuild-outbox", phase_rebuild_outbox, bus=bus, events_target=args.rebuild_events)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
