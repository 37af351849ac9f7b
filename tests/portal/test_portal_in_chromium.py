"""The portal as a person uses it: real headless Chromium (Debian's) against a live server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.outbox.eventbus import get_event_bus
from apps.projections.consumer import ProjectionConsumer
from tests.factories import persona_user
from tests.support.browser import chromium, log_in
from tests.support.bus import redis_flush
from tests.support.claims import ensure_reference_data
from tests.support.envelopes import claim_submitted

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture
def page():
    with chromium() as browser:
        yield browser.new_page()


@pytest.fixture
def billing_admin():
    ensure_reference_data()
    redis_flush()
    user, _token = persona_user("billing_admin", username="billing.browser")
    user.set_password("billing-demo-pass")
    user.save(update_fields=["password"])
    yield user
    redis_flush()


def test_billing_admin_logs_in_and_reads_projected_claims_on_the_dashboard(page, live_server, billing_admin):
    bus = get_event_bus()
    bus.publish_batch(
        [
            claim_submitted(
                claim_id=4101,
                encounter_id=4102,
                payer_code="BLUE-RIVER",
                total_amount="125.50",
                submitted_at=timezone.now() - timedelta(minutes=2),
            )
        ]
    )
    ProjectionConsumer(bus=bus, consumer="browser-test").drain()

    log_in(page, live_server, "billing.browser", "billing-demo-pass")
    page.wait_for_url(f"{live_server.url}/")
    assert "Billing admin" in page.inner_text("#who")
    page.click("text=Financial dashboard")
    page.wait_for_url(f"{live_server.url}/dashboards/financial")
    assert page.inner_text("#claims-total").strip() == "1"
    assert "BLUE-RIVER" in page.content() and "125.50" in page.content()
    screenshot = page.screenshot(full_page=True)
    assert screenshot[:8] == b"\x89PNG\r\n\x1a\n"


def test_wrong_password_is_explained_and_the_dashboard_stays_closed(page, live_server, billing_admin):
    log_in(page, live_server, "billing.browser", "not-the-password")
    assert "do not match" in page.inner_text("#login-error")
    page.goto(f"{live_server.url}/dashboards/financial")
    assert page.url.startswith(f"{live_server.url}/accounts/login/")
