"""Console fixtures: SRE, operator, patient and clinician personas with a browser password, and SLO
specs with replayable traffic (the SLO tests' own fixtures)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from apps.core.models import PersonaRole
from tests.factories import PatientFactory, persona_user
from tests.slo.conftest import healthz_traffic, spec_dir  # noqa: F401 - fixtures
from tests.support.browser import DEMO_PASSWORD


def person(role: str, username: str):
    patient = PatientFactory() if role == PersonaRole.PATIENT else None
    user, _ = persona_user(role, patient=patient, username=username)
    user.set_password(DEMO_PASSWORD)
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def sre():
    return person(PersonaRole.SRE, "sre-author")


@pytest.fixture
def second_sre():
    return person(PersonaRole.SRE, "sre-approver")


@pytest.fixture
def operator():
    return person(PersonaRole.OPERATOR, "operator-on-call")


@pytest.fixture
def sre_client(client, sre):
    client.force_login(sre)
    return client


def database_url(alias: str) -> str:
    config = connections[alias].settings_dict
    return f"postgres://{config['USER']}@{config['HOST']}:{config['PORT']}/{config['NAME']}"


@contextmanager
def celery_worker(log_path: Path, **env_overrides):
    """A real Celery worker (solo pool) on a queue of its own and the test databases; tasks sent from
    this process go to it. Stopped by its own PID afterwards."""
    from pimlab_portal.celery import app as celery_app

    queue = f"console-{uuid.uuid4().hex[:8]}"
    # Tasks routed to a named queue (settings' CELERY_TASK_ROUTES) go there; this test's Redis
    # database is its own, so the worker may consume those queues too.
    routes = celery_app.conf.task_routes or {}
    routed = sorted({r["queue"] for r in routes.values() if isinstance(r, dict) and r.get("queue")})
    queues = ",".join([queue, *routed])
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pimlab_portal.settings.test",
        "PIMLAB_CATALOG_URL": database_url("default"),
        "PIMLAB_SHARD_URLS": ",".join(database_url(alias) for alias in settings.SHARD_ALIASES),
        "PIMLAB_AUDIT_URL": database_url("audit"),
        **env_overrides,
    }
    root = Path(__file__).resolve().parents[3]
    log = log_path.open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pimlab_portal", "worker", "-P", "solo", "-Q", queues,
         "-n", f"{queue}@localhost", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        yield worker
    finally:
        celery_app.conf.task_default_queue = previous
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(5)
        log.close()
