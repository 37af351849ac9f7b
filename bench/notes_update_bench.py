"""Clinical note update: application throughput against raw SQL doing the same writes, same run.

    PIMLAB_TEST_DB_PREFIX=pimlab_notes_bench .venv/bin/python bench/notes_update_bench.py [--updates 400]

Recreates the databases ``<prefix>_catalog/_shard0/_shard1/_audit`` on the local
PostgreSQL, migrates them, then times:
- app: sequential PATCH /api/encounters/{id}/notes through Django's in-process test client (full
  validator, row lock, history row, audit row, telemetry; no HTTP server), with the garbage
  collector set up as in a web worker (long-lived objects frozen after the first request);
- raw: the same three writes (UPDATE encounter, INSERT history row, INSERT audit row) in one
  transaction per update with psycopg, on the same shard;
app and raw alternate in slices of 50 updates, so both see the same machine.
Prints updates/s for both and the ratio app/raw, plus the shipper's events/s into the audit store
against raw INSERTs of the same rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pimlab_portal.settings.test")
os.environ.setdefault("PIMLAB_TEST_DB_PREFIX", "pimlab_notes_bench")
os.environ.setdefault("PIMLAB_LOG_LEVEL", "WARNING")


# App and raw updates alternate in slices of this many.
CHUNK = 50


def bench_databases(*, create: bool) -> None:
    """Drop the bench databases and, with ``create``, make them again empty."""
    import psycopg

    prefix = os.environ["PIMLAB_TEST_DB_PREFIX"]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        for suffix in ("catalog", "shard0", "shard1", "audit"):
            conn.execute(f'DROP DATABASE IF EXISTS "{prefix}_{suffix}" WITH (FORCE)')
            if create:
                conn.execute(f'CREATE DATABASE "{prefix}_{suffix}"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=400)
    args = parser.parse_args()
    bench_databases(create=True)
    try:
        run(args.updates)
    finally:
        from django.db import connections

        connections.close_all()
        bench_databases(create=False)


def run(updates: int) -> None:

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate_all", verbosity=0)
    from apps.audits.shipping import audit_events_ship
    from tests.encounters.notes.note_scenario import note_world, patch_note
    from tests.support.api import api_client

    audit_events_ship(shard_alias="shard_0")
    world = note_world()
    client = api_client(world.tokens["care_team_clinician"])
    alias = world.encounter._state.db
    patch_note(client, world.encounter.id, {"text": "warm-up"}, version=0)
    # What a web worker does once the app is loaded and again after its first request
    # (pimlab_portal/worker_gc.py): the long-lived objects leave the collector's full scans.
    # Without it, full collections here cost ~0.6–0.8 ms per update that production does not pay.
    from pimlab_portal.worker_gc import gc_freeze_long_lived

    gc_freeze_long_lived()

    raw = connections[alias].cursor().connection
    # App and raw run in alternating slices of CHUNK updates, so that what other processes do to
    # the machine (CPU, and the disk every commit waits for) weighs on both sides of the ratio alike.
    app_seconds = raw_seconds = app_cpu = 0.0
    current = 1  # the note's version after the warm-up; raw updates bump it too
    for first in range(0, updates, CHUNK):
        size = min(CHUNK, updates - first)
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(size):
            response = patch_note(
                client, world.encounter.id, {"text": f"Update {current}: SOB improving, HTN."}, version=current
            )
            assert response.status_code == 200, response.content
            current += 1
        app_seconds += time.perf_counter() - started
        app_cpu += time.process_time() - cpu_started
        started = time.perf_counter()
        raw_updates(raw, world, range(first, first + size))
        raw_seconds += time.perf_counter() - started
        current += size
    app_rate, raw_rate = updates / app_seconds, updates / raw_seconds

    ship_started = time.perf_counter()
    shipped = audit_events_ship(shard_alias=alias).shipped
    ship_rate = shipped / (time.perf_counter() - ship_started)

    print(
        f"note updates/s  app={app_rate:.0f}  raw={raw_rate:.0f}  ratio app/raw={app_rate / raw_rate:.2f}"
        f"  (app CPU {app_cpu * 1000 / updates:.1f} ms/update, in-process client included)"
    )
    print(
        f"audit shipper   {shipped} events in the chain at {ship_rate:.0f} events/s "
        f"(ratio shipper/raw-write-path={ship_rate / raw_rate:.2f})"
    )


def raw_updates(raw, world, versions) -> None:
    """The note update's writes in raw SQL, one transaction per update: UPDATE encounter, INSERT
    history row, INSERT audit row."""
    with raw.cursor() as cursor:
        for version in versions:
            cursor.execute("BEGIN")
            cursor.execute(
                "UPDATE encounters_encounter SET note_text = %s, note_version = note_version + 1,"
                " note_updated_at = now(), updated_at = now() WHERE id = %s",
                (f"Raw {version}: shortness of breath improving, hypertension.", world.encounter.id),
            )
            cursor.execute(
                "INSERT INTO encounters_historicalencounter (id, history_date, history_type, history_change_reason,"
                " history_user_id, patient_id, encounter_type, reason, requested_start, status, booked_by_user_id,"
                " clinician_user_id, idempotency_key, request_fingerprint, note_text, note_status, note_version,"
                " note_released, note_amendment_reason, note_updated_by_user_id, note_updated_at, created_at,"
                " updated_at)"
                " SELECT id, now(), '~', 'note update', 1, patient_id, encounter_type, reason, requested_start, status,"
                " booked_by_user_id, clinician_user_id, idempotency_key, request_fingerprint, note_text, note_status,"
                " note_version, note_released, note_amendment_reason, 1, now(), created_at, updated_at"
                " FROM encounters_encounter WHERE id = %s",
                (world.encounter.id,),
            )
            cursor.execute(
                "INSERT INTO audits_auditevent (id, patient_id, occurred_at, action, outcome, resource_type,"
                " resource_id, actor_user_id, actor_role, request_id, trace_id, detail) VALUES (%s, %s, now(),"
                " 'encounter.note.updated', 'success', 'encounter_note', %s, 1, 'clinician', '', '', '{}')",
                (10**15 + version, world.patient.id, str(world.encounter.id)),
            )
            cursor.execute("COMMIT")


if __name__ == "__main__":
    main()
