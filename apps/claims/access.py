"""Audited claim reads (docs/access-policy.md): every read of a claim, its FHIR export included,
writes one audit event with the reader's role and purpose on the patient's shard."""

from __future__ import annotations

from apps.audits.services import audit_access_record, audit_page_record
from apps.audits.vocabulary import AuditAction, ResourceType
from apps.core.actors import Actor
from apps.core.errors import PermissionRefused

from .selectors import CLAIM_READ_PURPOSE, OPERATIONS_HIDDEN_LINE_FIELDS, ClaimView, claim_view_for


def claim_read_view(*, actor: Actor, fhir: bool) -> str:
    """The view ``actor`` gets; refuses the FHIR export to anyone but billing (it carries diagnoses)."""
    view = claim_view_for(actor=actor)
    if view is None:
        raise PermissionRefused("Only billing admins and operators read claims.")
    if fhir and view != ClaimView.BILLING:
        raise PermissionRefused(
            "The FHIR export carries diagnosis codes; it is for billing admins only.",
            remediation="Read the claim as JSON (without format=fhir): the operations view has no diagnoses.",
        )
    return view


def claim_read_audit(*, actor: Actor, using: str, patient_id: int, claim_id: int, view: str, fhir: bool) -> None:
    audit_access_record(
        using=using,
        patient_id=patient_id,
        action=AuditAction.CLAIM_FHIR_EXPORTED if fhir else AuditAction.CLAIM_READ,
        resource_type=ResourceType.CLAIM,
        resource_id=claim_id,
        actor=actor,
        purpose=CLAIM_READ_PURPOSE[view],
        detail={"view": view},
    )


def claim_list_audit(*, actor: Actor, claims: list, page: int = 1) -> None:
    """One audit event per shown page of claims (per shard it spans: an event lives on its
    patients' shard), naming the patients on it, with the reader's view and purpose."""
    view = claim_view_for(actor=actor)
    if view is None:
        raise PermissionRefused("Only billing admins and operators read claims.")
    audit_page_record(
        rows=claims,
        action=AuditAction.CLAIM_LISTED,
        resource_type=ResourceType.CLAIM,
        actor=actor,
        purpose=CLAIM_READ_PURPOSE[view],
        page=page,
        detail={"view": view},
    )


def line_items_for_view(line_items: list[dict], *, view: str) -> list[dict]:
    if view == ClaimView.BILLING:
        return line_items
    return [{k: v for k, v in item.items() if k not in OPERATIONS_HIDDEN_LINE_FIELDS} for item in line_items]
