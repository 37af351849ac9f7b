"""PHI canary: a patient with unique canary name, MRN and phone goes through the API, a portal page,
an admin search, a 5xx path (a database error quoting the row), a Celery task and a chaos drill; then
every signal is scanned — log lines, span names/attributes/events, metric label values, Redis
streams, outbox payloads, chaos journals: the canary appears in none of them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY, generate_latest

from apps.chaos.models import ExperimentRun
from apps.chaos.runner import run_execute
from apps.outbox.models import OutboxEvent
from apps.outbox.tasks import outbox_relay_drain_task
from apps.telemetry.tracing import span_store
from tests.chaos.conftest import approved_run
from tests.factories import PatientFactory, care_team_member, persona_user
from tests.support.bus import redis_flush
from tests.support.logs import json_log_lines

pytestmark = pytest.mark.django_db(databases="__all__")

CANARIES = ("Zyxcanaryone", "Qwvcanarytwo", "LAB9990001", "555-019-8844")


def signals_text(logs) -> dict[str, str]:
    spans = [
        f"{s.name} {dict(s.attributes)} {[(e.name, dict(e.attributes)) for e in s.events]} {s.status.description}"
        for s in span_store.spans()
    ]
    client = redis.Redis.from_url(settings.PIMLAB_EVENTBUS_URL)
    streams = [str(client.xrange(key)) for key in client.scan_iter() if client.type(key) == b"stream"]
    outbox = [
        str(row.payload) + str(row.headers) for a in settings.SHARD_ALIASES for row in OutboxEvent.objects.using(a)
    ]
    return {
        "logs": "\n".join(map(str, logs)),
        "spans": "\n".join(spans),
        "metrics": generate_latest(REGISTRY).decode(),
        "redis streams": "\n".join(streams),
        "outbox payloads": "\n".join(outbox),
        "chaos journals": "\n".join(str(run.journal) for run in ExperimentRun.objects.all()),
    }


def test_the_canary_never_reaches_a_signal():
    redis_flush()
    span_store.clear()
    with connections["shard_0"].cursor() as cursor:  # for the 5xx path below (rolled back with the test)
        cursor.execute(
            "CREATE FUNCTION canary_refuse() RETURNS trigger AS $$ BEGIN IF NEW.reason LIKE '%boom%' THEN "
            "RAISE EXCEPTION 'Failing row contains (%)', NEW.reason; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER canary BEFORE INSERT ON encounters_encounter FOR EACH ROW EXECUTE FUNCTION canary_refuse()"
        )
    patient = PatientFactory(
        bucket=3, given_name="Zyxcanaryone", family_name="Qwvcanarytwo", mrn="LAB9990001", phone="555-019-8844"
    )
    persona_user("patient", patient=patient)
    clinician, clinician_token = persona_user("clinician")
    care_team_member(patient, clinician)
    operator, _ = persona_user("operator")
    operator.is_staff = operator.is_superuser = True
    operator.save()
    api = Client(HTTP_AUTHORIZATION=f"Token {clinician_token}")
    start = (timezone.now() + timedelta(days=3)).isoformat()

    def book(reason):
        body = {
            "patient_id": str(patient.id),
            "encounter_type": "in_person",
            "reason": reason,
            "requested_start": start,
        }
        return api.post("/api/encounters", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)

    with json_log_lines() as logs:
        # API: booking, detail read, note written with the canary in it.
        encounter_id = book("Zyxcanaryone Qwvcanarytwo knee pain, call 555-019-8844").json()["id"]
        assert api.get(f"/api/encounters/{encounter_id}").status_code == 200
        note = {"text": "Zyxcanaryone Qwvcanarytwo seen; LAB9990001 stable."}
        assert (
            api.patch(
                f"/api/encounters/{encounter_id}/notes",
                note,
                content_type="application/json",
                HTTP_IF_MATCH='"note-v0"',
            ).status_code
            == 200
        )
        # Portal page and admin search by surname and MRN (the query string is the leak).
        portal = Client()
        portal.force_login(operator)
        assert portal.get("/dashboards/financial?days=7").status_code == 200
        assert "Zyxcanaryone" in portal.get("/admin/patients/patient/?q=Qwvcanarytwo&shard=shard_0").content.decode()
        assert portal.get("/admin/patients/patient/?q=LAB9990001&shard=shard_0").status_code == 200
        # A 5xx path: the database refuses the row and quotes it ("Failing row contains (…)").
        assert book("Zyxcanaryone Qwvcanarytwo boom").status_code >= 500
        # A Celery task: the outbox relay publishes the booking events to the Redis stream.
        outbox_relay_drain_task.apply(kwargs={"shard_alias": "shard_0"})
        # A chaos drill (approved, launched, executed) while the canary's data is in the lab.
        run_execute(run=approved_run(key="api/canary-drill"))
    found = {
        signal: [canary for canary in CANARIES if canary.lower() in text.lower()]
        for signal, text in signals_text(logs).items()
    }
    assert len(span_store.spans()) > 20 and len(logs) > 10  # the signals were captured at all
    assert ExperimentRun.objects.get().journal.get("run")
    assert {signal: hits for signal, hits in found.items() if hits} == {}
