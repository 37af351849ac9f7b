"""Break-glass in a real browser: a clinician outside the care team opens a visit, gets the refusal
page with its warning and reason form, is told what is missing, states a reason, and reads the visit;
the read is audited as break-glass and the privacy officer's alert fires (docs/access-policy.md)."""

from __future__ import annotations

import pytest

from apps.audits.models import AuditEvent
from apps.slo.models import AlertEvent
from tests.factories import encounter_for
from tests.support.browser import chromium, log_in, screenshot, serious_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

REASON = "Unconscious in the emergency department, no relatives reachable"


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


def test_a_clinician_outside_the_care_team_breaks_the_glass_and_the_read_is_audited_and_alerted(
    browser, live_server, lab
):
    encounter = encounter_for(lab["patient_record"], reason="Chest pain since Monday", note_text="Aspirin given.")
    page = browser.new_context().new_page()
    log_in(page, live_server.url, "dr.who")

    response = page.goto(f"{live_server.url}/encounters/{encounter.id}")
    assert response.status == 404
    assert "Page not found" in page.inner_text("h1") and "Chest pain" not in page.content()
    assert "privacy officer is alerted" in page.inner_text("#break-glass-warning")
    assert "At least 15 characters" in page.inner_text("#id_reason_helptext")
    assert serious_axe_violations(page) == []
    page.fill("#id_reason", REASON)
    screenshot(page, "clinician-break-glass")
    page.fill("#id_reason", "")

    # Nothing typed: the reason is required, said in the summary and next to the field.
    page.click("#break-glass-submit")
    page.wait_for_selector("#error-summary")
    assert "Enter the reason you need this patient" in page.inner_text("#id_reason-error")
    assert page.title().startswith("Error:")
    page.click("#error-summary a")
    assert page.evaluate("document.activeElement.id") == "id_reason"
    assert not AlertEvent.objects.filter(name="BreakGlassAccess").exists()

    page.fill("#id_reason", REASON)
    assert serious_axe_violations(page) == []
    page.click("#break-glass-submit")
    page.wait_for_selector("#break-glass-recorded")
    assert "Chest pain since Monday" in page.inner_text("#visit-reason")
    assert "Aspirin given." in page.inner_text("#break-glass-note")
    assert REASON in page.inner_text("#break-glass-reason")
    assert page.locator("#note-form").count() == 0  # read-only
    assert serious_axe_violations(page) == []

    event = AuditEvent.objects.using(encounter._state.db).get(
        action="encounter.break_glass_read", resource_id=str(encounter.id)
    )
    assert (event.actor_user_id, event.actor_role) == (lab["stranger"].pk, "clinician")
    assert event.detail["purpose"] == "emergency treatment" and event.detail["break_glass_reason"] == REASON
    alert = AlertEvent.objects.get(name="BreakGlassAccess")
    assert alert.status == "firing" and alert.annotations["encounter_id"] == str(encounter.id)
    assert alert.labels["actor_user_id"] == str(lab["stranger"].pk)
