"""The Pyroscope wrapper around the booking orchestrator's hot path runs with profiling configured:
a process with PYROSCOPE_SERVER_ADDRESS books through the API while the real Pyroscope agent ships
its profiles to a local ingest endpoint, labelled with the orchestrator's tags."""

from __future__ import annotations

import gzip
import http.server
import subprocess
import sys
import threading

import pytest

from tests.factories import PatientFactory, persona_user
from tests.support.lab_processes import ROOT, lab_environment

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

BOOK_FOR_A_WHILE = """
import django, time, uuid, sys
django.setup()
from django.test import Client
from tests.encounters.conftest import booking_body
client, answers, until = Client(), [], time.monotonic() + {seconds}
while time.monotonic() < until:
    answers.append(client.post("/api/encounters", booking_body({patient_id}), content_type="application/json",
        HTTP_AUTHORIZATION="Token {token}", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())).status_code)
    time.sleep(0.05)
print(); print("RESULT", *sorted(set(answers)), len(answers))
"""


class IngestEndpoint:
    """Stands in for a Pyroscope server: keeps each push, decompressed."""

    def __init__(self):
        self.pushes: list[tuple[str, bytes]] = []
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                endpoint.pushes.append((self.path, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_bookings_succeed_and_profiles_carry_the_orchestrator_tags():
    patient = PatientFactory(bucket=3)
    _, token = persona_user("patient", patient=patient)
    ingest = IngestEndpoint()
    try:
        result = subprocess.run(
            [sys.executable, "-c", BOOK_FOR_A_WHILE.format(seconds=12, patient_id=patient.id, token=token)],
            cwd=ROOT,
            env=lab_environment(PYROSCOPE_SERVER_ADDRESS=ingest.url, PYROSCOPE_SAMPLE_RATE="100"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        ingest.close()
    assert result.returncode == 0, result.stderr[-3000:]
    summary = next(line for line in result.stdout.splitlines() if line.startswith("RESULT ")).split()[1:]
    statuses, count = summary[:-1], int(summary[-1])
    assert statuses == ["202"] and count > 10
    assert ingest.pushes, "the Pyroscope agent shipped no profile"
    assert any(b"encounter_book" in body for _, body in ingest.pushes), "no sample tagged by profile_tags"
