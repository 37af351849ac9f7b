from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from tests.support.envelopes import redis_flush
from tests.factories import EncounterFactory, PatientFactory, persona_user


def ensure_reference_data() -> None:
    """Transactional tests flush every table, including rows the migrations loaded: put them back
    (the shard map is restored for every database test by tests/conftest.py)."""
    from apps.claims.models import AmountCeiling, Payer, RetentionPolicy
    from apps.claims.reference_data import reference_data_load

    reference_data_load(retention_policy_model=RetentionPolicy, payer_model=Payer, amount_ceiling_model=AmountCeiling)


@pytest.fixture(autouse=True)
def clean_redis(request):
    if request.node.get_closest_marker("django_db") is not None:
        request.getfixturevalue("_django_db_helper")
        ensure_reference_data()
    redis_flush()
    yield
    redis_flush()


def client_for(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def billing_admin():
    user, token = persona_user("billing_admin")
    return user, client_for(token)


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
