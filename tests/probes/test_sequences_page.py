"""The sequences page: each scenario's catalog diagram beside the one derived from a recorded trace,
rendered by the vendored Mermaid in Chromium."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import PatientFactory, persona_user
from tests.support.browser import chromium, log_in, screenshot, serious_axe_violations

pytestmark = pytest.mark.django_db(databases="__all__")
PASSWORD = "sequences-pass"


def signed_in(role: str, **extra) -> Client:
    user, _ = persona_user(role, **extra)
    client = Client()
    client.force_login(user)
    return client


def test_an_sre_sees_catalog_and_derived_diagrams_side_by_side():
    page = signed_in("sre").get("/sequences")
    assert page.status_code == 200
    html = page.content.decode()
    for scenario in ("Patient Books Encounter", "Clinician Documents Encounter", "Billing Submits Claim"):
        assert scenario in html
    assert "participant SQL as SQL Shard Primary" in html  # the catalog's alias
    assert "participant SqlShardPrimary as SQL Shard Primary" in html  # derived from a trace
    assert html.count('data-diagram="derived"') == 3
    assert 'data-diagram="derived-missing"' in html  # the failover scenario has no HTTP replay
    assert "vendor/mermaid-11.17.2/mermaid.min.js" in html


def test_other_personas_may_not_open_it():
    assert signed_in("patient", patient=PatientFactory()).get("/sequences").status_code == 403
    assert Client().get("/sequences").status_code == 302


@pytest.mark.browser
@pytest.mark.django_db(databases="__all__", transaction=True)
def test_mermaid_renders_every_diagram_in_chromium(live_server):
    user, _ = persona_user("sre", username="sre.sequences")
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        log_in(page, live_server.url, "sre.sequences", PASSWORD)
        page.goto(f"{live_server.url}/sequences")
        page.wait_for_function("document.querySelectorAll('pre.mermaid svg').length >= 7", timeout=30000)
        assert page.locator("pre.mermaid svg").count() == 7  # 4 catalog + 3 derived
        assert "Sequences" in page.inner_text("nav")
        assert serious_axe_violations(page) == []
        screenshot(page, "sequences")
