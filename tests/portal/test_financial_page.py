"""The portal's financial dashboard page and the trace page behind the claim's tracing link."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.outbox.eventbus import get_event_bus
from apps.projections.consumer import ProjectionConsumer
from tests.claims.conftest import claim_body, post_claim
from tests.factories import EncounterFactory, PatientFactory, persona_user
from tests.support.api import api_client
from tests.support.claims import claims_lab_reset
from tests.support.envelopes import claim_submitted

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(autouse=True)
def clean_bus(request):
    yield from claims_lab_reset(request)


def browser_for(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def test_page_shows_kpis_and_staleness():
    bus = get_event_bus()
    bus.publish_batch(
        [
            claim_submitted(
                claim_id=77,
                encounter_id=78,
                payer_code="BLUE-RIVER",
                total_amount="42.00",
                submitted_at=timezone.now() - timedelta(minutes=3),
            )
        ]
    )
    user, _token = persona_user("billing_admin")
    stale = browser_for(user).get("/dashboards/financial").content.decode()
    assert 'id="claims-total">0<' in stale and "backlog 1 event" in stale
    ProjectionConsumer(bus=bus, consumer="w").drain()
    page = browser_for(user).get("/dashboards/financial").content.decode()
    assert 'id="claims-total">1<' in page and "BLUE-RIVER" in page and "42.00" in page
    assert "backlog 0 events" in page


def test_page_needs_a_financial_role():
    user, _token = persona_user("patient", patient=PatientFactory())
    assert browser_for(user).get("/dashboards/financial").status_code == 403
    assert Client().get("/dashboards/financial").status_code == 302  # to the login page


def test_trace_link_of_a_claim_opens_its_spans():
    user, token = persona_user("billing_admin")
    response = post_claim(api_client(token), claim_body(EncounterFactory()))
    link = response.json()["links"]["trace"]
    page = browser_for(user).get(link)
    assert page.status_code == 200
    html = page.content.decode()
    for participant in ("Billing Service API", "Billing Orchestrator", "Outbox Writer"):
        assert participant in html
