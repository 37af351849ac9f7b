"""Fixtures for booking and outbox tests: personas, a patient per shard, booking requests."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.models import PersonaRole
from tests.factories import PatientFactory, persona_user
from tests.support.api import api_client

# Buckets 3 and 1000 map to shard_0 and shard_1 in the initial even split.
SHARD_0_BUCKET = 3
SHARD_1_BUCKET = 1000


def patient_in_bucket(bucket: int):
    """A saved patient whose id carries ``bucket`` (so it lands on the shard that bucket maps to)."""
    return PatientFactory(bucket=bucket)


@pytest.fixture
def patient():
    return patient_in_bucket(SHARD_0_BUCKET)


@pytest.fixture
def other_patient():
    return patient_in_bucket(SHARD_1_BUCKET)


@pytest.fixture
def patient_persona(patient):
    return persona_user(PersonaRole.PATIENT, patient=patient)


@pytest.fixture
def clinician_persona():
    return persona_user(PersonaRole.CLINICIAN)


@pytest.fixture
def billing_persona():
    return persona_user(PersonaRole.BILLING_ADMIN)


@pytest.fixture
def sre_persona():
    return persona_user(PersonaRole.SRE)


def booking_body(patient_id: int, /, **overrides) -> dict:
    body = {
        "patient_id": str(patient_id),
        "encounter_type": "telehealth",
        "reason": "Persistent cough for two weeks",
        "requested_start": (timezone.now() + timedelta(days=3)).replace(microsecond=0).isoformat(),
    }
    body.update(overrides)
    return body


def book(token: str, body: dict, key: str | None = None):
    return api_client(token).post("/api/encounters", body, format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()))
