"""A submitted claim nudges its shard's relay on commit, as a booking does: a real Celery worker
publishes the ClaimSubmitted event long before the beat's 3-second drain would (no beat runs here,
so only the nudge can publish it)."""

from __future__ import annotations

import time

import pytest

from apps.outbox import tasks
from apps.outbox.events import EventType
from apps.outbox.models import OutboxEvent, OutboxStatus
from tests.claims.conftest import claim_body, post_claim
from tests.encounters.conftest import book, booking_body
from tests.factories import EncounterFactory, PatientFactory, persona_user
from tests.outbox.test_relay_worker import relay_worker, wait_until_published, wait_until_ready  # noqa: F401
from tests.support.api import api_client

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

BEAT_INTERVAL_SECONDS = 3.0


def test_a_submitted_claim_is_published_by_the_on_commit_nudge_well_before_the_beat(relay_worker):  # noqa: F811
    encounter = EncounterFactory(patient=PatientFactory())
    alias = encounter._state.db
    # Warm-up: the worker has started once a booking's own nudge got its event published (no
    # earlier test's nudge may throttle this one, and the nudge must not expire while the worker starts).
    wait_until_ready(relay_worker)
    tasks._last_nudge.clear()
    _user, patient_token = persona_user("patient", patient=encounter.patient)
    booked = book(patient_token, booking_body(encounter.patient_id))
    assert wait_until_published(alias, [int(booked.json()["tracking_id"])]) == {OutboxStatus.PUBLISHED}
    tasks._last_nudge.clear()  # the booking's nudge must not throttle the claim's

    _admin, admin_token = persona_user("billing_admin")
    committed = time.monotonic()
    response = post_claim(api_client(admin_token), claim_body(encounter))
    assert response.status_code == 202, response.content
    event = OutboxEvent.objects.using(alias).get(
        event_type=EventType.CLAIM_SUBMITTED, payload__claim_id=response.json()["claim_id"]
    )
    assert wait_until_published(alias, [event.id], deadline_s=BEAT_INTERVAL_SECONDS / 2) == {OutboxStatus.PUBLISHED}
    elapsed = time.monotonic() - committed
    print(f"ClaimSubmitted published {elapsed:.3f} s after the claim request started")
    assert elapsed < BEAT_INTERVAL_SECONDS / 2
    assert relay_worker.poll() is None
