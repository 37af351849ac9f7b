"""One error strategy: every refusal is problem+json, with the headers its domain error carries,
and the constraints the server enforces are refused with a field error."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from apps.core.api_errors import PROBLEM_CONTENT_TYPE, problem_exception_handler
from apps.core.errors import DependencyUnavailable, DomainError
from tests.claims.conftest import claim_body, post_claim
from tests.encounters.notes.note_scenario import note_world, patch_note
from tests.factories import EncounterFactory, PatientFactory, persona_user
from tests.support.api import api_client as client_for

pytestmark = pytest.mark.django_db(databases="__all__")


def _assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["remediation"] and body["code"]
    return body


@pytest.mark.parametrize(
    "path",
    [
        "/api/chaos/runs/abc",
        "/api/chaos/revisions/abc/approve",
        "/api/chaos/runs/99999999999999999999",  # beyond 63 bits: never reaches the database
        "/api/claims/not-a-claim",
        "/api/encounters/abc/notes",
        "/api/no-such-thing",
    ],
)
def test_unrouted_api_paths_answer_a_problem_not_an_html_page(path):
    _, token = persona_user("sre")
    body = _assert_problem(client_for(token).get(path), 404)
    assert body["code"] == "no_route"


def test_non_api_paths_keep_the_html_404():
    response = APIClient().get("/no-such-page")
    assert response.status_code == 404 and "html" in response["Content-Type"]


def test_domain_error_headers_and_members_reach_the_response():
    class Throttled(DomainError):
        code = "slow_down"
        status = 429
        title = "Slow down"
        remediation = "Retry later."

    response = problem_exception_handler(
        Throttled("Too many.", headers={"Retry-After": "7"}, extra={"limit": 3}), {"request": RequestFactory().get("/")}
    )
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.data == {
        "type": "about:blank",
        "title": "Slow down",
        "status": 429,
        "detail": "Too many.",
        "remediation": "Retry later.",
        "code": "slow_down",
        "limit": 3,
    }
    unavailable = problem_exception_handler(DependencyUnavailable(dependency="redis", retry_after=9), {})
    assert unavailable.headers["Retry-After"] == "9" and unavailable.data["dependency"] == "redis"


def test_a_note_patch_must_change_something():
    world = note_world()
    client = client_for(world.tokens["care_team_clinician"])
    for body in ({}, {"amendment_reason": "only a reason"}):
        problem = _assert_problem(patch_note(client, world.encounter.id, body), 400)
        assert "non_field_errors" in problem["errors"]


def test_an_empty_paid_amount_is_refused():
    _, token = persona_user("billing_admin")
    client = client_for(token)
    claim_id = post_claim(client, claim_body(EncounterFactory(patient=PatientFactory()))).json()["claim_id"]
    for amount in ("", "  ", 12.5):
        response = client.post(f"/api/claims/{claim_id}/payment", {"paid_amount": amount}, format="json")
        assert "paid_amount" in _assert_problem(response, 400)["errors"]


def test_an_empty_adr_reference_is_refused():
    _, token = persona_user("sre")
    for adr_ref in ("", "   "):
        response = client_for(token).post("/api/chaos/runs/1/close", {"adr_ref": adr_ref}, format="json")
        assert "adr_ref" in _assert_problem(response, 400)["errors"]


def test_ids_in_bodies_are_digit_strings_only():
    _, token = persona_user("billing_admin")
    encounter = EncounterFactory(patient=PatientFactory())
    as_numbers = claim_body(encounter, patient_id=encounter.patient_id, encounter_id=encounter.id)
    problem = _assert_problem(post_claim(client_for(token), as_numbers), 400)
    assert {"patient_id", "encounter_id"} <= problem["errors"].keys()
    assert post_claim(client_for(token), claim_body(encounter)).status_code == 202


def test_financial_dashboard_refuses_a_non_numeric_day_count():
    _, token = persona_user("billing_admin")
    problem = _assert_problem(client_for(token).get("/api/dashboards/financial", {"days": "abc"}), 400)
    assert "days" in problem["errors"]
