"""The persona journeys as people use them: Debian's Chromium (Playwright) against a live server on
PostgreSQL and Redis, with a real Celery worker relaying the outbox. Every page visited is checked
with axe-core; each persona's main page is saved under docs/screenshots/ (shown in the README)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.claims.models import Claim
from apps.encounters.models import Encounter
from apps.outbox import tasks as outbox_tasks
from apps.outbox.eventbus import get_event_bus
from apps.outbox.models import OutboxEvent, OutboxStatus
from apps.outbox.tasks import outbox_relay_fan_out_task
from apps.projections.consumer import ProjectionConsumer
from tests.factories import EncounterFactory, encounter_for
from tests.outbox.test_relay_worker import relay_worker, wait_until_published  # noqa: F401 - a fixture
from tests.support.browser import chromium, log_in, screenshot, serious_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


def signed_in(browser, live_server, username: str, **context_options):
    page = browser.new_context(**context_options).new_page()
    log_in(page, live_server.url, username)
    return page


def assert_accessible(page) -> None:
    assert serious_axe_violations(page) == [], page.url


def local_input(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def test_patient_books_a_visit_and_sees_the_tracking_id_turn_published(browser, live_server, lab, relay_worker):  # noqa: F811
    outbox_tasks._last_nudge.clear()
    page = signed_in(browser, live_server, "ada.patient")
    page.click("#nav-links >> text=Book a visit")
    page.wait_for_url(f"{live_server.url}/visits/book")
    assert_accessible(page)

    page.check("text=Telehealth visit")
    page.fill("#id_reason", "Cough for two weeks")
    page.fill("#id_requested_start", local_input(timezone.now() - timedelta(days=1)))
    page.click("#book-submit")
    page.wait_for_selector("#error-summary")
    assert "must be in the future" in page.inner_text("#id_requested_start-error")
    assert page.input_value("#id_reason") == "Cough for two weeks"  # nothing typed is lost
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert_accessible(page)

    page.fill("#id_requested_start", local_input(timezone.now() + timedelta(days=2)))
    page.click("#book-submit")
    page.wait_for_url(re.compile(r".*/visits/\d+$"))
    encounter = Encounter.objects.using("shard_0").get(patient=lab["patient_record"])
    event = OutboxEvent.objects.using("shard_0").get(event_type="EncounterCreated")
    assert page.inner_text("#tracking-id") == str(event.id)
    # The panel updates itself (htmx polling) once the worker has relayed the event.
    page.wait_for_selector("#tracking-state .text-bg-success", timeout=60_000)
    assert "published" in page.inner_text("#tracking-state")
    assert OutboxEvent.objects.using("shard_0").get(pk=event.id).status == OutboxStatus.PUBLISHED
    assert_accessible(page)
    screenshot(page, "patient-visit-confirmation")

    page.click("#nav-links >> text=My visits")
    assert str(encounter.id) in page.inner_html("#upcoming-visits")
    assert_accessible(page)
    screenshot(page, "patient-my-visits")

    phone = signed_in(browser, live_server, "ada.patient", viewport=PHONE)
    phone.goto(f"{live_server.url}/visits/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "patient-my-visits-phone")


def test_a_double_submitted_booking_books_once(browser, live_server, lab):
    page = signed_in(browser, live_server, "ada.patient")
    page.goto(f"{live_server.url}/visits/book")
    page.check("text=In-person visit")
    page.fill("#id_reason", "Knee pain after a fall")
    page.fill("#id_requested_start", local_input(timezone.now() + timedelta(days=3)))
    # Two submissions of the same form at once, as a double click on a slow connection sends them.
    landed = page.evaluate(
        """async () => {
             const form = document.getElementById("book-visit-form");
             const send = () => fetch(form.action || location.href, {method: "POST", body: new FormData(form)});
             const answers = await Promise.all([send(), send()]);
             return answers.map(answer => [answer.status, answer.url]);
           }"""
    )
    assert landed[0] == landed[1] and landed[0][0] == 200 and re.search(r"/visits/\d+$", landed[0][1])
    page.dblclick("#book-submit")
    page.wait_for_url(re.compile(r".*/visits/\d+$"))
    assert Encounter.objects.using("shard_0").filter(patient=lab["patient_record"]).count() == 1


def test_clinicians_edit_concurrently_and_the_first_resolves_the_conflict(browser, live_server, lab):
    encounter = encounter_for(
        lab["patient_record"], reason="Cough review", requested_start=timezone.now() - timedelta(hours=1)
    )
    first = signed_in(browser, live_server, "dr.grey")
    first.click("#nav-links >> text=Worklist")
    assert "Cough review" in first.inner_text("#worklist")
    assert_accessible(first)
    screenshot(first, "clinician-worklist")
    first.click("#worklist >> a")
    first.wait_for_url(f"{live_server.url}/encounters/{encounter.id}")
    first.fill("#id_text", "Mine: cough improving. Call 555-123-4567 if worse.")
    first.wait_for_selector("#redaction-preview")  # the validator's preview, before saving
    assert "phone" in first.inner_text("#redaction-preview")
    assert_accessible(first)
    screenshot(first, "clinician-encounter")

    second = signed_in(browser, live_server, "dr.house")
    second.goto(f"{live_server.url}/encounters/{encounter.id}")
    second.fill("#id_text", "Theirs: cough resolved.")
    second.click("#note-draft")
    second.wait_for_selector("#messages >> text=Draft saved")

    first.click("#note-draft")
    first.wait_for_selector("#current-text")
    assert "Theirs: cough resolved." in first.inner_text("#current-text")
    assert "Mine: cough improving" in first.input_value("#id_text")
    assert_accessible(first)
    screenshot(first, "clinician-conflict")
    first.click("#reapply")
    first.wait_for_selector("#messages >> text=Draft saved")
    saved = Encounter.objects.using("shard_0").get(pk=encounter.id)
    assert saved.note_version == 2 and saved.note_text == "Mine: cough improving. Call [REDACTED-PHONE] if worse."

    first.click("#history-link")
    timeline = first.inner_text("#history-timeline")
    assert "Theirs: cough resolved." in timeline and "Mine: cough improving" in timeline
    assert_accessible(first)
    # "As of" the moment the second clinician saved: their text, not the later re-applied one.
    first.click("#history-timeline li:nth-child(2) >> text=view as of then")
    assert first.inner_text("#as-of-text") == "Theirs: cough resolved."
    assert_accessible(first)

    first.goto(f"{live_server.url}/encounters/{encounter.id}")
    first.click("#finish-link")
    assert_accessible(first)
    first.click("#finish-confirm")
    first.wait_for_selector("#messages >> text=Visit finished")
    assert Encounter.objects.using("shard_0").get(pk=encounter.id).status == "finished"


def test_billing_admin_submits_a_claim_meets_a_guardrail_and_sees_the_dashboard_change(
    browser,
    live_server,
    lab,
    relay_worker,  # noqa: F811
):
    encounter = EncounterFactory(patient=lab["patient_record"], reason="Diabetes review")
    page = signed_in(browser, live_server, "billing.bea")
    page.goto(f"{live_server.url}/dashboards/financial")
    before = page.evaluate("window.pimlabCharts.perDay.data.datasets[0].data.reduce((a, b) => a + b, 0)")

    page.click("#nav-links >> text=Ready to bill")
    assert "Diabetes review" in page.inner_text("#ready-to-bill")
    assert_accessible(page)
    screenshot(page, "billing-ready-to-bill")
    page.click("#ready-to-bill >> text=Submit claim")
    page.select_option("#id_payer_code", "ACME-HEALTH")
    page.fill("#id_lines-0-procedure_code", "9921")
    # A selector wait, not wait_for_function: the page's CSP refuses the eval a string predicate needs.
    page.wait_for_selector("#procedure-codes option", state="attached")
    assert "99213" in page.inner_html("#procedure-codes")
    page.fill("#id_lines-0-procedure_code", "99213")
    page.fill("#id_lines-0-diagnosis_codes", "I10")
    page.fill("#id_lines-0-unit_price", "120.00")
    page.fill("#id_lines-1-procedure_code", "36415")
    page.fill("#id_lines-1-diagnosis_codes", "I10, E11.9")
    page.fill("#id_lines-1-units", "2")
    page.fill("#id_lines-1-unit_price", "15.50")
    assert page.inner_text("#running-total") == "151.00"
    assert_accessible(page)
    screenshot(page, "billing-submit-claim")
    page.click("#claim-submit")
    page.wait_for_url(re.compile(r".*/claims/\d+$"))
    claim = Claim.objects.using("shard_0").get(encounter=encounter)
    assert page.inner_text("#claim-total") == "151.00 USD"
    assert page.get_attribute("#fhir-download", "href") == f"/api/claims/{claim.id}?format=fhir"
    assert_accessible(page)
    screenshot(page, "billing-claim")

    page.goto(f"{live_server.url}/claims/new?encounter={encounter.id}")
    page.select_option("#id_payer_code", "BLUE-RIVER")
    page.fill("#id_lines-0-procedure_code", "99213")
    page.fill("#id_lines-0-diagnosis_codes", "I10")
    page.fill("#id_lines-0-unit_price", "80.00")
    page.click("#claim-submit")
    page.wait_for_selector("#error-summary")
    assert "duplicate claim rule" in page.inner_text("#claim-refusal")
    assert_accessible(page)

    event = OutboxEvent.objects.using("shard_0").get(event_type="ClaimSubmitted")
    outbox_relay_fan_out_task.delay()  # what beat does every few seconds in the lab
    assert wait_until_published("shard_0", [event.id]) == {OutboxStatus.PUBLISHED}
    ProjectionConsumer(bus=get_event_bus(), consumer=f"browser-{uuid.uuid4().hex[:6]}").drain()
    page.goto(f"{live_server.url}/dashboards/financial")
    after = page.evaluate("window.pimlabCharts.perDay.data.datasets[0].data.reduce((a, b) => a + b, 0)")
    assert after == before + 1
    assert page.inner_text("#claims-total") == str(int(before) + 1)
    assert "ACME-HEALTH" in page.inner_text("#table-per-payer")
    assert_accessible(page)
    screenshot(page, "billing-financial-dashboard")


def test_every_persona_is_refused_on_the_pages_of_the_others(browser, live_server, lab):
    encounter = encounter_for(lab["patient_record"])
    others = {
        "ada.patient": [
            "/worklist",
            f"/encounters/{encounter.id}",
            "/billing/ready",
            "/claims/",
            "/dashboards/financial",
        ],
        "dr.grey": ["/visits/", "/visits/book", "/billing/ready", "/claims/new", "/dashboards/financial"],
        "billing.bea": ["/visits/", "/visits/book", "/worklist", f"/encounters/{encounter.id}"],
    }
    for username, paths in others.items():
        page = signed_in(browser, live_server, username)
        for path in paths:
            response = page.goto(f"{live_server.url}{path}")
            assert response.status == 403, (username, path)
            assert "You cannot open this page" in page.inner_text("main")
        assert_accessible(page)
        page.context.close()


def test_the_other_portal_pages_pass_axe_and_fit_a_phone(browser, live_server, lab):
    """Pages the journeys above do not open: sign-in, home, claims list, the 404 page; and every
    persona's main page at phone width without sideways scrolling."""
    anonymous = browser.new_page()
    anonymous.goto(f"{live_server.url}/accounts/login/")
    assert_accessible(anonymous)
    EncounterFactory(patient=lab["patient_record"], reason="Annual check-up")
    encounter_for(lab["patient_record"], reason="Blood pressure follow-up")
    pages = {
        "ada.patient": ["/", "/visits/", "/visits/book", "/visits/999"],
        "dr.grey": ["/", "/worklist"],
        "billing.bea": ["/", "/billing/ready", "/claims/", "/dashboards/financial"],
    }
    for username, paths in pages.items():
        phone = signed_in(browser, live_server, username, viewport=PHONE)
        for path in paths:
            phone.goto(f"{live_server.url}{path}")
            assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], (username, path)
            assert_accessible(phone)
        phone.context.close()
