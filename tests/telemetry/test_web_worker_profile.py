"""A py-spy flame graph of a real gunicorn web worker under booking load (scripts/profile_web_worker.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid

import pytest
import requests

from tests.encounters.conftest import booking_body
from tests.factories import PatientFactory, persona_user
from tests.support.lab_processes import ROOT, gunicorn, lab_environment, lab_processes

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def test_a_flame_graph_of_a_web_worker_under_load_shows_the_booking_path(tmp_path):
    patient = PatientFactory(bucket=3)
    _, token = persona_user("patient", patient=patient)
    with lab_processes(lambda: gunicorn("web", log_dir=tmp_path, env=lab_environment())) as (web,):
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(web.process.pid)], capture_output=True, text=True)
        worker = int(children.stdout.split()[0])
        stop = threading.Event()

        def load():
            while not stop.is_set():
                requests.post(
                    f"{web.url}/api/encounters",
                    json=booking_body(patient.id),
                    headers={"Authorization": f"Token {token}", "Idempotency-Key": str(uuid.uuid4())},
                    timeout=30,
                )

        traffic = threading.Thread(target=load, daemon=True)
        traffic.start()
        try:
            result = subprocess.run(
                [sys.executable, "scripts/profile_web_worker.py", "--seconds", "4", "--pid", str(worker),
                 "--out", str(tmp_path / "profiles")],
                cwd=ROOT, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
        finally:
            stop.set()
            traffic.join(30)
    assert result.returncode == 0, result.stdout + result.stderr
    (svg,) = (tmp_path / "profiles").glob(f"web-worker-{worker}-*.svg")
    flame = svg.read_text()
    assert flame.startswith("<?xml") and "<svg" in flame
    assert "encounter_book" in flame, "the booking orchestrator is on the flame graph"
