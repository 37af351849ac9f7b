"""The portal's one error helper reads every DomainError, whatever members it carries."""

from __future__ import annotations

from django import forms

from apps.claims.guardrails import GuardrailViolation
from apps.core.errors import Conflict, DomainError, InvalidInput
from apps.encounters.services import BookingInvalid
from apps.portal.errors import form_error_add, portal_error


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False)


def bound() -> ReasonForm:
    form = ReasonForm({"reason": "x"})
    assert form.is_valid()
    return form


def test_a_domain_error_naming_a_field_lands_next_to_it():
    form = bound()
    error = form_error_add(form, InvalidInput("Keep it short.", field="reason", remediation="Use 10 words."))
    assert error.status == 422 and form.errors["reason"] == ["Keep it short. Use 10 words."]


def test_a_domain_error_without_a_field_goes_to_the_summary():
    form = bound()
    form_error_add(form, Conflict("Someone else saved first."))
    assert form.non_field_errors() == ["Conflict: Someone else saved first. " + Conflict.remediation]


def test_refusals_carrying_field_errors_statuses_and_rules_are_read():
    invalid = portal_error(BookingInvalid({"reason": ["Say briefly why the visit is needed."]}))
    assert invalid.status == 422 and invalid.field_errors == {"reason": ["Say briefly why the visit is needed."]}
    problem = portal_error(
        DomainError("Key reused.", status=409, title="Taken", remediation="Use a new key.", code="reused")
    )
    assert (problem.status, problem.title, problem.message) == (409, "Taken", "Key reused. Use a new key.")
    guardrail = portal_error(GuardrailViolation(rule="amount_ceiling", detail="Too much.", remediation="Split it."))
    assert guardrail.status == 403 and guardrail.title == "Refused by the amount ceiling rule"
