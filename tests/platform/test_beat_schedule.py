"""A real `celery beat` registers every app's periodic tasks in django-celery-beat's tables."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from pimlab_portal.celery import app as celery_app
from pimlab_portal.celery import collect_beat_schedules
from tests.support.databases import child_env

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def test_beat_registers_each_apps_schedule(tmp_path):
    collect_beat_schedules(celery_app)
    expected = set(celery_app.conf.beat_schedule)
    assert {
        "outbox-relay-every-few-seconds",
        "audit-ship-all-shards",
        "projections-drain",
        "slo-evaluate-all",
    } <= expected

    # Due tasks go to a queue nobody consumes: this test is about registration only.
    env = child_env(PIMLAB_BROKER_URL=f"{settings.CELERY_BROKER_URL.rsplit('/', 1)[0]}/15")
    log_path = tmp_path / "beat.log"
    with log_path.open("w") as log:
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "pimlab_portal", "beat", "-l", "INFO",
             "--pidfile", str(tmp_path / "beat.pid"), "-s", str(tmp_path / "beat-schedule")],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            registered: set[str] = set()
            while time.monotonic() < deadline and not expected <= registered:
                registered = set(PeriodicTask.objects.values_list("name", flat=True))
                time.sleep(0.5)
        finally:
            beat.terminate()
            beat.wait(15)
    assert expected <= registered, (expected - registered, log_path.read_text()[-2000:])
