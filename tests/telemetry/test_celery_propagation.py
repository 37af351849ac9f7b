"""A real Celery worker receives the request's trace context and correlation fields."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from opentelemetry.trace import SpanKind

from apps.telemetry.tracing import span_store
from tests.factories import PatientFactory, persona_user
from tests.support.api import api_client
from tests.support.logs import json_lines_of
from tests.support.processes import process_stop

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.telemetry.urls")]

BASE_DIR = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 90  # a bound on waiting for the worker, not a speed assertion


def wait_for(path: Path, predicate, process) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for line in json_lines_of(path):
            if predicate(line):
                return line
        if process.poll() is not None:
            break
        time.sleep(0.2)
    pytest.fail(f"worker never logged the expected line; its output:\n{path.read_text(errors='replace')[-4000:]}")


@pytest.fixture
def celery_worker(tmp_path):
    queue = f"trace-test-{uuid.uuid4().hex[:10]}"
    log_path = tmp_path / "worker.log"
    env = dict(os.environ)
    env.update(DJANGO_SETTINGS_MODULE="pimlab_portal.settings.test", PYTHONUNBUFFERED="1")
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    command = [
        sys.executable, "-m", "celery", "-A", "pimlab_portal", "worker",
        "-Q", queue, "--hostname", f"{queue}@%h", "--concurrency", "1", "--pool", "prefork",
        "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(log_path, lambda line: str(line.get("event", "")).endswith(" ready."), process)
        yield queue, log_path, process
    finally:
        process_stop(process)


def test_a_worker_task_continues_the_requests_trace_with_its_correlation_fields(celery_worker):
    queue, log_path, process = celery_worker
    patient = PatientFactory(bucket=1013)
    user, token = persona_user("clinician", username="doc-celery")
    client = api_client(token)
    label = uuid.uuid4().hex
    span_store.clear()
    response = client.get(f"/probe/{patient.id}/", {"queue": queue, "label": label})
    assert response.status_code == 200
    sent = response.json()

    received = wait_for(
        log_path, lambda line: line.get("event") == "trace_probe_received" and line.get("label") == label, process
    )
    assert received["trace_id"] == sent["trace_id"], "the task runs in the request's trace"
    assert received["request_id"] == sent["request_id"]
    assert received["user_id"] == user.pk
    assert received["persona"] == "clinician" and received["actor_role"] == "clinician"
    assert received["shard_id"] == "shard_1"
    assert received["task_id"]
    # The worker's task span is a child of the request's publish span.
    request_spans = span_store.trace(sent["trace_id"])
    publish = [s for s in request_spans if s.kind == SpanKind.PRODUCER]
    assert len(publish) == 1 and "telemetry.trace_probe" in publish[0].name
    assert received["parent_span_id"] == format(publish[0].context.span_id, "016x")
    server = next(s for s in request_spans if s.kind == SpanKind.SERVER)
    assert publish[0].parent.span_id == server.context.span_id
    # django-structlog's own task lines carry the same fields.
    started = [
        line
        for line in json_lines_of(log_path)
        if line.get("event") == "task_started" and line.get("task_id") == received["task_id"]
    ]
    assert started and started[0]["trace_id"] == sent["trace_id"] and started[0]["persona"] == "clinician"
