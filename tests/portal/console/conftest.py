"""Console fixtures: SRE, operator, patient and clinician personas with a browser password, and SLO
specs with replayable traffic (the SLO tests' own fixtures)."""

from __future__ import annotations

import pytest

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
