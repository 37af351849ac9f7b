"""The booking hot path stays lean: the statements of one booking are pinned, the response body
is built without the output serializer yet renders the same, and a booking rides over a dead shard
connection without the per-request health check."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.core.identity_cache import token_identity_cache
from apps.encounters.apis import EncounterBookingOutputSerializer, _booking_representation
from apps.encounters.models import Encounter
from tests.encounters.conftest import book, booking_body
from tests.encounters.test_booking_api import shard_rows
from tests.encounters.test_booking_failures import retries
from tests.support.databases import backend_kill

ROOT = Path(__file__).resolve().parent.parent.parent
# One transaction on the patient's shard: the encounter, its history row, the audit event and the
# outbox row, nothing else (no lookup, no check-then-insert, no health check through the ORM).
BOOKING_INSERTS = [
    "encounters_encounter",
    "encounters_historicalencounter",
    "audits_auditevent",
    "outbox_outboxevent",
]
# Around it, one catalog transaction takes the Idempotency-Key (ADR-013): one insert (whose
# RETURNING spares a read on a new key) already naming the encounter, whose id the app made.
REGISTRY_STATEMENTS = ["BEGIN", "INSERT core_idempotencykey", "COMMIT"]


def statement_kind(sql: str) -> str:
    if sql in ("BEGIN", "COMMIT"):
        return sql
    verb = sql.split()[0]
    table = sql.split('"')[1]
    return f"{verb} {table}"


class AllConnectionsQueries:
    """CaptureQueriesContext over every database alias at once."""

    def __enter__(self):
        self.contexts = {alias: CaptureQueriesContext(connections[alias]) for alias in connections}
        for context in self.contexts.values():
            context.__enter__()
        return self

    def __exit__(self, *exc):
        for context in self.contexts.values():
            context.__exit__(*exc)

    def statements(self, alias: str) -> list[str]:
        return [query["sql"] for query in self.contexts[alias].captured_queries]


def inserted_table(sql: str) -> str:
    assert sql.startswith("INSERT INTO "), sql
    return sql.removeprefix("INSERT INTO ").split()[0].strip('"')


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_a_booking_is_one_token_lookup_one_key_registration_and_one_shard_transaction(patient, patient_persona):
    token = patient_persona[1]
    token_identity_cache.clear()

    with AllConnectionsQueries() as first:
        assert book(token, booking_body(patient.id)).status_code == 202
    with AllConnectionsQueries() as second:
        assert book(token, booking_body(patient.id)).status_code == 202

    # The first request resolves the token (user and persona in one query); later ones reuse it.
    catalog = first.statements("default")
    assert '"knox_authtoken"' in catalog[0] and '"core_persona"' in catalog[0]
    assert [statement_kind(sql) for sql in catalog[1:]] == REGISTRY_STATEMENTS
    assert [statement_kind(sql) for sql in second.statements("default")] == REGISTRY_STATEMENTS
    for queries in (first, second):
        shard = queries.statements("shard_0")
        assert shard[0] == "BEGIN" and shard[-1] == "COMMIT", shard
        assert [inserted_table(sql) for sql in shard[1:-1]] == BOOKING_INSERTS
        assert queries.statements("shard_1") == [] and queries.statements("audit") == []
    assert shard_rows("shard_0") == {"encounters": 2, "history": 2, "audit": 2, "outbox": 2}


@pytest.mark.django_db(databases="__all__")
def test_the_body_built_directly_equals_the_output_serializer(patient, patient_persona):
    response = book(patient_persona[1], booking_body(patient.id))
    assert response.status_code == 202
    encounter = Encounter.objects.using("shard_0").get(pk=int(response.json()["id"]))
    for tracking_id, event_status in (("42", "pending"), ("43", "published"), ("", "unknown")):
        direct = _booking_representation(encounter, tracking_id=tracking_id, event_status=event_status)
        serialized = EncounterBookingOutputSerializer(
            {
                **{field: getattr(encounter, field) for field in (
                    "id", "patient_id", "encounter_type", "reason", "requested_start", "status",
                    "booked_by_user_id", "created_at",
                )},
                "tracking_id": tracking_id,
                "event_status": event_status,
                "event_published": event_status == "published",
            }
        ).data  # fmt: skip
        assert direct == dict(serialized)
    assert response.json() == _booking_representation(
        encounter, tracking_id=response.json()["tracking_id"], event_status="pending"
    )


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_without_shard_health_checks_a_booking_rides_over_a_dead_connection(patient, patient_persona):
    connection = connections["shard_0"]
    saved = connection.settings_dict["CONN_HEALTH_CHECKS"]
    connection.settings_dict["CONN_HEALTH_CHECKS"] = False
    connection.close()  # the next connection is opened with the setting above
    try:
        token = patient_persona[1]
        assert book(token, booking_body(patient.id)).status_code == 202
        assert connection.connection is not None and connection.health_check_enabled is False
        backend_kill("shard_0")
        before = sum(retries("shard_0", error) for error in ("OperationalError", "InterfaceError"))

        response = book(token, booking_body(patient.id))

        assert response.status_code == 202, response.content
        assert sum(retries("shard_0", error) for error in ("OperationalError", "InterfaceError")) == before + 1
        assert shard_rows("shard_0") == {"encounters": 2, "history": 2, "audit": 2, "outbox": 2}
    finally:
        connection.settings_dict["CONN_HEALTH_CHECKS"] = saved
        connection.close()


def test_the_production_profile_drops_health_checks_on_shards_only():
    script = (
        "from django.conf import settings as s; print({a: c['CONN_HEALTH_CHECKS'] for a, c in s.DATABASES.items()})"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIMLAB_SHARD_CONN")}
    env.update(
        DJANGO_SETTINGS_MODULE="pimlab_portal.settings.production",
        DJANGO_SECRET_KEY="test-only",
        PIMLAB_VAR_DIR=str(Path(os.environ.get("TMPDIR", "/tmp")) / "pimlab-hot-path-settings"),
    )

    def checks(extra: dict) -> dict:
        result = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {script}"],
            cwd=ROOT, env={**env, **extra}, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return ast.literal_eval(result.stdout.strip().splitlines()[-1])

    default = checks({})
    assert default["default"] is True and default["audit"] is True
    assert [default[a] for a in default if a.startswith("shard_")] == [False, False]
    restored = checks({"PIMLAB_SHARD_CONN_HEALTH_CHECKS": "1"})
    assert all(restored.values())
