"""GET /api/claims/{id}?format=fhir returns a FHIR R4B Claim that the fhir.resources models accept."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.claim import Claim as FhirClaim

from tests.claims.conftest import claim_body, post_claim
from tests.factories import persona_user
from tests.support.api import api_client

pytestmark = pytest.mark.django_db(databases="__all__")


def test_claim_as_fhir_r4b_validates(billing_admin, finished_encounter):
    _user, client = billing_admin
    claim_id = post_claim(client, claim_body(finished_encounter)).json()["claim_id"]
    response = client.get(f"/api/claims/{claim_id}?format=fhir")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    resource = FhirClaim.model_validate_json(response.content)
    assert resource.id == claim_id and resource.use == "claim" and resource.status == "active"
    assert resource.patient.reference == f"Patient/{finished_encounter.patient_id}"
    assert float(resource.total.value) == 151.0 and resource.total.currency == "USD"
    assert [item.productOrService.coding[0].code for item in resource.item] == ["99213", "36415"]
    assert [d.diagnosisCodeableConcept.coding[0].code for d in resource.diagnosis] == ["I10", "E11.9"]
    assert resource.item[1].diagnosisSequence == [1, 2]
    assert float(resource.item[1].net.value) == 31.0 and resource.insurer.identifier.value == "ACME-HEALTH"


def test_claim_as_plain_json(billing_admin, finished_encounter):
    _user, client = billing_admin
    claim_id = post_claim(client, claim_body(finished_encounter)).json()["claim_id"]
    body = client.get(f"/api/claims/{claim_id}").json()
    assert body["claim_id"] == claim_id and body["archived"] is False
    assert [line["line_total"] for line in body["line_items"]] == ["120.00", "31.00"]


def test_patient_cannot_read_claims(billing_admin, finished_encounter):
    _user, client = billing_admin
    claim_id = post_claim(client, claim_body(finished_encounter)).json()["claim_id"]
    _patient_user, token = persona_user("patient", patient=finished_encounter.patient)
    assert api_client(token).get(f"/api/claims/{claim_id}").status_code == 403


def test_unknown_claim_is_404(billing_admin):
    _user, client = billing_admin
    assert client.get("/api/claims/12345678901234567").status_code == 404
    assert client.get("/api/claims/not-a-number").status_code == 404
