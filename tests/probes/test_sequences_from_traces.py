"""`validate_sequences --from-traces` against a live lab (gunicorn, a Celery worker, the projection
worker): the probes replay each scenario, the recorded traces give each scenario's participants and
message order, which match the catalog; a removed span or two swapped steps are drift."""

from __future__ import annotations

import threading
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from apps.outbox.tasks import outbox_relay_fan_out_task
from apps.probes.live_sequences import scenario_spans
from apps.probes.sequence_catalog import catalog_parse
from apps.probes.sequence_drift import NOT_TRACED
from apps.probes.trace_sequences import sequence_compare, sequence_derive
from apps.telemetry.participants import Participant
from apps.telemetry.tracing import shared_trace_store
from tests.support.lab_processes import celery_worker, gunicorn, lab_environment, lab_processes, projection_worker

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
CATALOG = Path(settings.BASE_DIR) / "docs" / "requirements" / "runtime-sequence-catalog.md"


@pytest.fixture
def live_lab(probe_world, tmp_path):
    """gunicorn, a Celery worker and the projection worker, and beat's relay fan-out every second
    (claims wait for it: they record outbox rows without a nudge)."""
    env = lab_environment()
    stop = threading.Event()

    def beat():
        while not stop.wait(1.0):
            outbox_relay_fan_out_task.apply_async()

    with lab_processes(
        lambda: gunicorn("web", log_dir=tmp_path, env=env, workers=2),
        lambda: celery_worker(f"seq-{uuid.uuid4().hex[:6]}", log_dir=tmp_path, env=env),
        lambda: projection_worker("projection-sequences", log_dir=tmp_path, env=env),
    ) as processes:
        pump = threading.Thread(target=beat, daemon=True)
        pump.start()
        try:
            yield processes[0].url
        finally:
            stop.set()
            pump.join(5)


def scenario(name: str):
    return next(s for s in catalog_parse(CATALOG.read_text()).scenarios if s.name == name)


def test_recorded_traces_match_the_catalog_and_a_changed_trace_is_drift(live_lab, tmp_path):
    shared_trace_store().clear()
    out = StringIO()
    call_command(
        "validate_sequences", "--from-traces", "--base-url", live_lab, "--derived-dir", str(tmp_path), stdout=out
    )
    report = out.getvalue()
    assert "[trace] 3/3 scenarios match their recorded traces" in report, report
    booking_mermaid = (tmp_path / "patient-books-encounter.mmd").read_text()
    assert booking_mermaid.startswith("sequenceDiagram")
    assert "participant SqlShardPrimary as SQL Shard Primary" in booking_mermaid
    assert "OutboxWriter" in booking_mermaid and "participant EventBus as Event Bus" in booking_mermaid
    claim_mermaid = (tmp_path / "billing-submits-claim.mmd").read_text()
    assert "participant ProjectionWorker as Projection Worker" in claim_mermaid
    assert "participant FinancialDashboard as Financial Dashboard" in claim_mermaid

    # The same recorded booking trace, changed: drift in participants, then in order.
    booking = scenario("Patient Books Encounter")
    trace_id = booking_mermaid.split("trace(s) ")[1].split(" ")[0]
    # Read the trace as the command does: wait until every traced participant's span has arrived
    # (the relay's spans are exported by another process, a moment later).
    traced = {p.label for p in booking.participants if p.label not in NOT_TRACED}
    spans = scenario_spans([trace_id], wanted=traced)
    derive = lambda spans: sequence_derive(booking, spans, caller="Patient Persona", trace_ids=[trace_id])  # noqa: E731
    assert sequence_compare(booking, derive(spans), not_traced=set(NOT_TRACED)).ok

    without_resolver = [s for s in spans if s["name"] != Participant.SHARD_RESOLVER]
    drift = sequence_compare(booking, derive(without_resolver), not_traced=set(NOT_TRACED))
    assert drift.missing == ["Shard Resolver"] and not drift.ok

    # Two steps swapped: every Shard Resolver span (a retried booking has several) now starts after
    # every Patient Repository Adapter span.
    swapped = [dict(s) for s in spans]
    repository_start = max(s["start_ns"] for s in swapped if s["name"] == Participant.PATIENT_REPOSITORY_ADAPTER)
    for span in swapped:
        if span["name"] == Participant.SHARD_RESOLVER:
            span["start_ns"] = repository_start + 1
    drift = sequence_compare(booking, derive(swapped), not_traced=set(NOT_TRACED))
    assert drift.missing == [] and drift.order and "'Patient Repository Adapter' in the trace" in drift.order[0]


def test_without_a_lab_the_replay_fails_with_a_remedy(probe_world, tmp_path):
    with pytest.raises(CommandError, match="did not succeed"):
        call_command(
            "validate_sequences", "--from-traces", "--base-url", "http://127.0.0.1:9", "--derived-dir", str(tmp_path),
            stdout=StringIO(),
        )  # fmt: skip
