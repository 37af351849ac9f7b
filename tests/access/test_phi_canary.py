"""PHI canary: a patient with unique canary name, MRN and phone goes through the API, the portal pages
of the patient and of the clinician, an admin search, a 5xx path (a database error quoting the row),
Celery tasks run by a real worker process and a chaos drill executed by that worker on the chaos
queue; then every signal is scanned — log lines (this process's and the worker's log file), span
names/attributes/events (this process's and every process's in the shared trace store), metric
label values, Redis streams, outbox payloads, chaos journals: the canary appears in none of them."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
import redis
import yaml
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY, generate_latest

from apps.chaos import services as chaos_services
from apps.chaos.models import ExperimentRun, RunStatus
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.tasks import outbox_relay_drain_task
from apps.telemetry.tracing import shared_trace_store, span_store
from tests.chaos.conftest import small_manifest
from tests.factories import PatientFactory, care_team_member, persona_user
from tests.support.bus import redis_flush
from tests.support.lab_processes import celery_worker, lab_environment, lab_processes, wait_until
from tests.support.logs import json_log_lines

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

CANARIES = ("Zyxcanaryone", "Qwvcanarytwo", "LAB9990001", "555-019-8844")


def signals_text(logs, worker_log: str) -> dict[str, str]:
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
        "worker logs": worker_log,
        "spans": "\n".join(spans),
        "shared trace store": "\n".join(map(str, shared_trace_store().recent(5000))),
        "metrics": generate_latest(REGISTRY).decode(),
        "redis streams": "\n".join(streams),
        "outbox payloads": "\n".join(outbox),
        "chaos journals": "\n".join(str(run.journal) for run in ExperimentRun.objects.all()),
    }


@pytest.fixture
def canary_trigger():
    """A trigger that refuses a row and quotes it, for the 5xx path (dropped afterwards)."""
    with connections["shard_0"].cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION canary_refuse() RETURNS trigger AS $$ BEGIN IF NEW.reason LIKE '%boom%' THEN "
            "RAISE EXCEPTION 'Failing row contains (%)', NEW.reason; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER canary BEFORE INSERT ON encounters_encounter FOR EACH ROW EXECUTE FUNCTION canary_refuse()"
        )
    yield
    with connections["shard_0"].cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS canary ON encounters_encounter")
        cursor.execute("DROP FUNCTION IF EXISTS canary_refuse()")


def drill_on_the_canarys_shard_in_the_worker() -> ExperimentRun:
    """Approved by a second SRE and launched onto the chaos queue: the worker process executes it."""
    manifest = small_manifest(
        blast_radius={
            "targets": [{"kind": "shard", "name": "shard_0"}],
            "max_patient_share": 0.5,
            "max_traffic_share": 0.5,
        },
        method=[
            {"name": "pending events", "type": "probe", "probe": "outbox_pending", "arguments": {"shard": "shard_0"}},
            {"name": "drain the outbox", "type": "action", "action": "outbox_drain", "arguments": {"shard": "shard_0"}},
        ],
    )
    revision = chaos_services.experiment_submit(
        key="api/canary-drill", manifest_text=yaml.safe_dump(manifest), author="sre-author"
    )
    assert chaos_services.revision_dry_run(revision=revision)["ok"]
    chaos_services.revision_approve(revision=revision, approver="sre-approver")
    run = chaos_services.run_launch(revision=revision, launched_by="sre-approver")
    return wait_until(
        lambda: ExperimentRun.objects.filter(pk=run.pk, status=RunStatus.COMPLETED).first(),
        timeout=90,
        what="the chaos worker to complete the drill",
    )


def test_the_canary_never_reaches_a_signal(canary_trigger, tmp_path):
    redis_flush()
    span_store.clear()
    shared_trace_store().clear()
    patient = PatientFactory(
        bucket=3, given_name="Zyxcanaryone", family_name="Qwvcanarytwo", mrn="LAB9990001", phone="555-019-8844"
    )
    patient_user, _ = persona_user("patient", patient=patient)
    clinician, clinician_token = persona_user("clinician")
    care_team_member(patient, clinician)
    operator, _ = persona_user("operator")
    operator.is_staff = operator.is_superuser = True
    operator.save()
    persona_user("sre", username="sre-author")
    persona_user("sre", username="sre-approver")
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

    env = lab_environment(PIMLAB_LOG_LEVEL="INFO")
    with (
        lab_processes(
            lambda: celery_worker(
                f"canary-{uuid.uuid4().hex[:6]}", log_dir=tmp_path, env=env, queues=("celery", "chaos")
            )
        ) as (worker,),
        json_log_lines() as logs,
    ):
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
        # Portal pages that show the canary: the patient's visit, the clinician's encounter.
        as_patient, as_clinician = Client(), Client()
        as_patient.force_login(patient_user)
        as_clinician.force_login(clinician)
        assert "knee pain" in as_patient.get(f"/visits/{encounter_id}").content.decode()
        assert "Zyxcanaryone" in as_clinician.get(f"/encounters/{encounter_id}").content.decode()
        # Admin search by surname and MRN (the query string is the leak), and a staff page.
        portal = Client()
        portal.force_login(operator)
        assert portal.get("/dashboards/financial?days=7").status_code == 200
        assert "Zyxcanaryone" in portal.get("/admin/patients/patient/?q=Qwvcanarytwo&shard=shard_0").content.decode()
        assert portal.get("/admin/patients/patient/?q=LAB9990001&shard=shard_0").status_code == 200
        # A 5xx path: the database refuses the row and quotes it ("Failing row contains (…)").
        assert book("Zyxcanaryone Qwvcanarytwo boom").status_code >= 500
        # A Celery task in the worker process: the relay publishes the canary's events to the stream.
        outbox_relay_drain_task.apply_async(kwargs={"shard_alias": "shard_0"})
        wait_until(
            lambda: not OutboxEvent.objects.using("shard_0").exclude(status=OutboxStatus.PUBLISHED).exists(),
            timeout=60,
            what="the worker to publish the canary's events",
            processes=[worker],
        )
        # A chaos drill on the canary's shard, executed by the worker on the chaos queue.
        run = drill_on_the_canarys_shard_in_the_worker()
        time.sleep(1.5)  # the worker's span batches (every 0.5 s) reach the shared trace store
        worker_log = worker.log_path.read_text(errors="replace")
    found = {
        signal: [canary for canary in CANARIES if canary.lower() in text.lower()]
        for signal, text in signals_text(logs, worker_log).items()
    }
    assert len(span_store.spans()) > 20 and len(logs) > 10  # the signals were captured at all
    assert "chaos_run_end" in worker_log and "outbox.relay_drain" in worker_log
    assert run.journal.get("run") and len(shared_trace_store().recent(5000)) > 20
    assert {signal: hits for signal, hits in found.items() if hits} == {}
