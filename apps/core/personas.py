"""Demo logins of the lab's persona users: known passwords, shown by ``lab_banner``.

These are synthetic lab accounts; a production deployment creates no demo users."""

from __future__ import annotations

from .models import PersonaRole

DEMO_PASSWORDS = {
    PersonaRole.PATIENT: "patient-demo-pass",
    PersonaRole.CLINICIAN: "clinician-demo-pass",
    PersonaRole.BILLING_ADMIN: "billing-demo-pass",
    PersonaRole.SRE: "sre-demo-pass",
    PersonaRole.OPERATOR: "operator-demo-pass",
}

SRE_USERNAME = "sre"
# A second SRE: chaos drills need an approver who is not the author (four-eyes, ADR-012).
SECOND_SRE_USERNAME = "sre2"
OPERATOR_USERNAME = "operator"


def patient_username(index: int) -> str:
    return f"patient{index + 1:04d}"


def clinician_username(index: int) -> str:
    return f"clinician{index + 1:02d}"


def billing_admin_username(index: int) -> str:
    return f"billing{index + 1:02d}"
