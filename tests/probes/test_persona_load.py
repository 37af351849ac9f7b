"""`make load` in CI size: Locust, headless for a few seconds, drives the persona mix against a real
gunicorn and Celery worker; the report beside the run gives req/s, failures and p50/p95/p99 per operation."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.support.lab_processes import celery_worker, gunicorn, lab_environment, lab_processes

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
ROOT = Path(settings.BASE_DIR)


def test_a_few_seconds_of_persona_load_write_a_report(probe_world, tmp_path):
    run = tmp_path / "load-run"
    call_command("load_personas", "--out", str(run / "personas.json"))
    env = lab_environment()
    with lab_processes(
        lambda: gunicorn("web", log_dir=tmp_path, env=env, workers=2),
        lambda: celery_worker(f"load-{uuid.uuid4().hex[:6]}", log_dir=tmp_path, env=env),
    ) as processes:
        locust = subprocess.run(
            [
                str(Path(sys.executable).parent / "locust"), "-f", "load/locustfile.py", "--headless",
                "--host", processes[0].url, "-u", "10", "-r", "10", "-t", "6s",
                "--csv", str(run / "locust"), "--only-summary", "--exit-code-on-error", "0",
            ],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={"LOAD_PERSONAS": str(run / "personas.json"), "LOAD_WAIT_MIN": "0.1", "LOAD_WAIT_MAX": "0.3",
                 "PATH": str(Path(sys.executable).parent)},
        )  # fmt: skip
    assert locust.returncode == 0, locust.stderr[-3000:]
    report_run = subprocess.run([sys.executable, "load/report.py", str(run)], cwd=ROOT, capture_output=True, text=True)
    assert report_run.returncode == 0, report_run.stderr
    report = json.loads((run / "report.json").read_text())
    by_name = {op["operation"]: op for op in report["operations"]}
    assert by_name["book encounter"]["requests"] > 0
    assert by_name["all"]["requests"] >= by_name["book encounter"]["requests"]
    assert by_name["all"]["requests_per_second"] > 0
    for op in report["operations"]:
        assert op["failures"] == 0, op
        assert op["p50_ms"] is not None and op["p99_ms"] >= op["p95_ms"] >= op["p50_ms"], op
    assert {"book encounter (clinician)", "read note", "update note", "finish"} <= set(by_name)
    assert "| operation | requests | failures | req/s | p50 ms | p95 ms | p99 ms |" in (run / "report.md").read_text()
