"""Claims as FHIR R4B ``Claim`` resources, built and validated with the fhir.resources models."""

from __future__ import annotations

from fhir.resources.R4B.claim import Claim as FhirClaim

from .code_sets import DIAGNOSIS_SYSTEM, PROCEDURE_SYSTEM, diagnosis_display, procedure_display
from .models import Claim, ClaimStatus

CLAIM_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claim-type"
PRIORITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/processpriority"
PAYER_SYSTEM = "urn:pimlab:payer"
ORGANIZATION_REFERENCE = "Organization/pimlab-clinic"


def claim_as_fhir(claim: Claim, line_items: list) -> dict:
    """A validated FHIR R4B Claim as a JSON-ready dict. Raises pydantic.ValidationError if invalid."""
    diagnoses: list[str] = []
    for item in line_items:
        for code in item.diagnosis_codes:
            if code not in diagnoses:
                diagnoses.append(code)
    money = lambda amount: {"value": float(amount), "currency": claim.currency}  # noqa: E731
    resource = {
        "resourceType": "Claim",
        "id": str(claim.id),
        "identifier": [{"system": "urn:pimlab:claim", "value": str(claim.id)}],
        # A paid claim is still an active request in FHIR terms; payment lives in ClaimResponse.
        "status": "active",
        "type": {"coding": [{"system": CLAIM_TYPE_SYSTEM, "code": "professional"}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{claim.patient_id}"},
        "created": claim.submitted_at.isoformat(),
        "insurer": {"identifier": {"system": PAYER_SYSTEM, "value": claim.payer_code}},
        "provider": {"reference": ORGANIZATION_REFERENCE},
        "priority": {"coding": [{"system": PRIORITY_SYSTEM, "code": "normal"}]},
        "diagnosis": [
            {
                "sequence": index,
                "diagnosisCodeableConcept": {
                    "coding": [{"system": DIAGNOSIS_SYSTEM, "code": code, "display": diagnosis_display(code)}]
                },
            }
            for index, code in enumerate(diagnoses, start=1)
        ],
        "insurance": [
            {
                "sequence": 1,
                "focal": True,
                "coverage": {"display": f"Coverage with {claim.payer_code}"},
            }
        ],
        "item": [
            {
                "sequence": item.sequence,
                "diagnosisSequence": [diagnoses.index(code) + 1 for code in item.diagnosis_codes],
                "productOrService": {
                    "coding": [
                        {
                            "system": PROCEDURE_SYSTEM,
                            "code": item.procedure_code,
                            "display": procedure_display(item.procedure_code),
                        }
                    ]
                },
                "encounter": [{"reference": f"Encounter/{claim.encounter_id}"}],
                "quantity": {"value": item.units},
                "unitPrice": money(item.unit_price),
                "net": money(item.line_total),
            }
            for item in line_items
        ],
        "total": money(claim.total_amount),
        "extension": [
            {"url": "urn:pimlab:claim-status", "valueCode": ClaimStatus(claim.status).value},
            {"url": "urn:pimlab:retention-class", "valueCode": claim.retention_class},
        ],
    }
    return FhirClaim.model_validate(resource).model_dump(mode="json", exclude_none=True)
