from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from tests.factories import EncounterFactory, PatientFactory, persona_user
from tests.support.api import api_client
from tests.support.claims import claims_lab_reset


@pytest.fixture(autouse=True)
def clean_redis(request):
    yield from claims_lab_reset(request)


@pytest.fixture
def billing_admin():
    user, token = persona_user("billing_admin")
    return user, api_client(token)


@pytest.fixture
def finished_encounter():
    return EncounterFactory(patient=PatientFactory())


def claim_body(encounter, **overrides) -> dict:
    body = {
        "patient_id": str(encounter.patient_id),
        "encounter_id": str(encounter.id),
        "payer_code": "ACME-HEALTH",
        "line_items": [
            {"procedure_code": "99213", "diagnosis_codes": ["I10"], "units": 1, "unit_price": "120.00"},
            {"procedure_code": "36415", "diagnosis_codes": ["I10", "E11.9"], "units": 2, "unit_price": "15.50"},
        ],
    }
    body.update(overrides)
    return body


def post_claim(client: APIClient, body: dict, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key != "" else {}
    if key is None:
        headers = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    return client.post("/api/claims", body, format="json", **headers)
