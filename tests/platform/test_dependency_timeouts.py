"""Nothing hangs: with Redis frozen (SIGSTOP) or down, and with a shard database blackholed, the API
answers within a stated bound with 503 + Retry-After and a problem body naming the dependency; a
genuine constraint conflict is a 409, not a retry hint.

Bounds (seconds) follow from the settings: Redis socket timeouts 2 s; libpq connect_timeout 2 s with
the booking's 3 s retry budget (at most two connection attempts)."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest
from django.db import IntegrityError, connections
from django.test import override_settings

from apps.claims.models import Claim
from apps.core.api_errors import problem_exception_handler
from apps.outbox.tasks import outbox_relay_nudge
from tests.claims.conftest import claim_body, post_claim
from tests.encounters.conftest import booking_body
from tests.factories import EncounterFactory, PatientFactory, persona_user
from tests.support.api import api_client
from tests.support.claims import ensure_reference_data
from tests.support.servers import blackhole_port, redis_server

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

REDIS_BOUND_SECONDS = 6.0
DATABASE_BOUND_SECONDS = 8.0


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def assert_dependency_503(response, dependency: str) -> None:
    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["dependency"] == dependency and body["remediation"]


@pytest.fixture
def claims_client(settings):
    ensure_reference_data()
    _user, token = persona_user("billing_admin")
    return api_client(token)


@pytest.mark.parametrize("fault", ["frozen", "down"])
def test_claim_submission_answers_503_naming_redis_when_the_rate_limiter_cannot_count(tmp_path, claims_client, fault):
    from apps.claims import guardrails

    encounter = EncounterFactory(patient=PatientFactory())
    with redis_server(tmp_path) as redis_process, override_settings(PIMLAB_REDIS_URL=redis_process.url):
        guardrails._redis_clients.clear()
        if fault == "frozen":
            redis_process.freeze()
        else:
            os.kill(redis_process.pid, signal.SIGKILL)
        try:
            response, seconds = timed(lambda: post_claim(claims_client, claim_body(encounter)))
        finally:
            guardrails._redis_clients.clear()
    assert_dependency_503(response, "redis")
    assert seconds < REDIS_BOUND_SECONDS
    assert not Claim.objects.using(encounter._state.db).filter(encounter_id=encounter.id).exists()


def broker_pools_reset(app) -> None:
    """Close the app's broker connections; the next publish opens new ones on the current broker_url.
    The producer pool is built on the connection pool, so it goes too (a kept one would say "Acquire
    on closed pool" to every later publish in this process)."""
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


def test_a_frozen_broker_does_not_hold_up_the_relay_nudge(tmp_path):
    from pimlab_portal.celery import app

    with redis_server(tmp_path) as redis_process:
        saved = app.conf.broker_url
        app.conf.broker_url = redis_process.url
        broker_pools_reset(app)
        redis_process.freeze()
        try:
            nudged, seconds = timed(lambda: outbox_relay_nudge(shard_alias=f"shard_nudge_{uuid.uuid4().hex[:6]}"))
        finally:
            redis_process.thaw()
            app.conf.broker_url = saved
            broker_pools_reset(app)
    assert nudged is False
    assert seconds < REDIS_BOUND_SECONDS


def test_booking_on_a_blackholed_shard_answers_503_naming_the_database_in_bounded_time(shard_1_blackholed_client):
    client, patient = shard_1_blackholed_client
    response, seconds = timed(
        lambda: client.post(
            "/api/encounters", booking_body(patient.id), format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
        )
    )
    assert_dependency_503(response, "database")
    assert seconds < DATABASE_BOUND_SECONDS


@pytest.fixture
def shard_1_blackholed_client():
    patient = PatientFactory(bucket=1000)  # shard_1
    _user, token = persona_user("patient", patient=patient)
    client = api_client(token)
    connection = connections["shard_1"]
    connection.close()
    saved = {key: connection.settings_dict[key] for key in ("HOST", "PORT")}
    with blackhole_port() as port:
        connection.settings_dict.update({"HOST": "127.0.0.1", "PORT": str(port)})
        try:
            yield client, patient
        finally:
            connection.close()
            connection.settings_dict.update(saved)


def test_a_genuine_constraint_conflict_is_409_without_row_content():
    diag = type("Diag", (), {"constraint_name": "claims_claim_one_per_encounter"})()
    cause = type("Cause", (Exception,), {"diag": diag})()
    error = IntegrityError('duplicate key value; Failing row contains (42, "Jane Canary", LAB0000042)')
    error.__cause__ = cause
    response = problem_exception_handler(error, {})
    assert response.status_code == 409 and "Retry-After" not in response
    assert "claims_claim_one_per_encounter" in response.data["detail"]
    assert "Canary" not in str(response.data) and "LAB0000042" not in str(response.data)
