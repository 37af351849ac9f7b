"""OTLP export stays available by configuration: with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, a gunicorn
server of the lab sends its spans to that collector over OTLP/HTTP (protobuf), scrubbed like every
other span, and the shared trace store still gets them."""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.conf import settings
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from apps.telemetry.participants import Participant
from apps.telemetry.tracing import shared_trace_store
from tests.encounters.conftest import booking_body
from tests.factories import PatientFactory, persona_user
from tests.support.lab_processes import gunicorn, lab_environment, lab_processes, wait_until

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


class Collector:
    """A minimal OTLP/HTTP trace receiver: keeps every exported span with its resource."""

    def __init__(self):
        self.spans: list[dict] = []
        self.paths: list[str] = []
        collector = self

        class Receive(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                collector.paths.append(self.path)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            collector.spans.append(
                                {
                                    "trace_id": span.trace_id.hex(),
                                    "name": span.name,
                                    "service": resource.get("service.name"),
                                    "values": [str(a.value).strip() for a in span.attributes],
                                }
                            )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()
                self.wfile.write(b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Receive)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector():
    receiver = Collector()
    yield receiver
    receiver.close()


def test_spans_reach_an_otlp_collector_scrubbed_and_the_trace_store_still_gets_them(collector, tmp_path):
    store = shared_trace_store()
    store.clear()
    patient = PatientFactory(bucket=5)
    _, token = persona_user("patient", patient=patient)
    env = lab_environment(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url)
    trace_id = uuid.uuid4().hex
    headers = {"Authorization": f"Token {token}", "traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}

    with lab_processes(lambda: gunicorn("web-otlp", log_dir=tmp_path, env=env)) as (web,):
        answer = requests.post(
            f"{web.url}/api/encounters?mrn={patient.mrn}",
            json=booking_body(patient.id),
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            timeout=30,
        )
        assert answer.status_code == 202, answer.text

        def exported():
            names = {s["name"] for s in collector.spans if s["trace_id"] == trace_id}
            return {Participant.API_GATEWAY, Participant.PATIENT_ORCHESTRATOR, Participant.OUTBOX_WRITER} <= names

        wait_until(exported, timeout=30, what="the booking's spans at the OTLP collector", processes=[web])

    assert set(collector.paths) == {"/v1/traces"}
    spans = [s for s in collector.spans if s["trace_id"] == trace_id]
    assert {s["service"] for s in spans} == {settings.PIMLAB_SERVICE_NAME}
    # The query string (here an MRN) never leaves the process, on any span.
    assert not [s for s in spans if any(patient.mrn in value for value in s["values"])]
    assert {span["name"] for span in store.trace(trace_id)} >= {Participant.API_GATEWAY, Participant.OUTBOX_WRITER}
