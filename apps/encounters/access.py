"""Audited reads and row refusals of encounters (docs/access-policy.md).

Every read of an encounter writes an audit event with its purpose; a refusal writes a denied event
and answers like a missing row (404: no existence oracle); a break-glass read is allowed, audited
as such and raises an alert for the privacy officer."""

from __future__ import annotations

import structlog

from apps.audits.models import AuditOutcome
from apps.audits.services import audit_access_record, audit_page_record
from apps.audits.vocabulary import AuditAction, ResourceType
from apps.core.actors import Actor
from apps.core.ids import InvalidShardedId
from apps.core.redaction import phi_redact
from apps.slo.services import alert_event_record

from .errors import BreakGlassReasonTooShort, EncounterNotVisible
from .models import Encounter
from .selectors import (
    ENCOUNTER_ROLE_PURPOSE,
    EncounterAccess,
    EncounterView,
    encounter_access_for,
    encounter_get,
)

logger = structlog.get_logger(__name__)

BREAK_GLASS_ALERT = "BreakGlassAccess"
BREAK_GLASS_REASON_MAX = 200
# A reason a privacy officer can act on ("Unconscious in ED, no relatives"), not "x" or "need it".
BREAK_GLASS_REASON_MIN = 15


def encounter_not_found(encounter_id) -> EncounterNotVisible:
    return EncounterNotVisible(
        f"No encounter {encounter_id} is visible to you.",
        remediation="Check the id (use the Location header returned by the booking). A clinician outside "
        "the care team may send a `Break-Glass-Reason` header in an emergency; the read is audited.",
    )


def encounter_read(
    *, actor: Actor, encounter_id, break_glass_reason: str = "", shows_note: bool = False
) -> tuple[Encounter, EncounterAccess]:
    """The encounter and the view ``actor`` gets of it, with its read audited (one event); raises
    ``EncounterNotVisible`` (and audits the refusal) when the row rule says no. ``shows_note``: the
    caller shows the clinical note with the visit wherever the view allows it (a portal page), and
    the event says whether the note was shown. A break-glass reason shorter than
    ``BREAK_GLASS_REASON_MIN`` is refused (422) before the encounter is looked up."""
    stated = break_glass_reason.strip()
    if stated and len(stated) < BREAK_GLASS_REASON_MIN:
        raise BreakGlassReasonTooShort(
            f"A break-glass reason needs at least {BREAK_GLASS_REASON_MIN} characters.",
            field="break_glass_reason",
        )
    try:
        encounter = encounter_get(encounter_id=encounter_id)
    except InvalidShardedId:
        encounter = None
    if encounter is None:
        raise encounter_not_found(encounter_id)
    access = encounter_access_for(actor=actor, encounter=encounter, break_glass_reason=break_glass_reason)
    encounter_access_audit(
        actor=actor,
        encounter=encounter,
        access=access,
        break_glass_reason=break_glass_reason,
        note_shown=shows_note and note_shown_in(access=access, encounter=encounter),
    )
    if not access.visible:
        raise encounter_not_found(encounter_id)
    return encounter, access


def note_shown_in(*, access: EncounterAccess, encounter: Encounter) -> bool:
    """Whether a page showing the encounter in ``access``'s view shows its clinical note: the care
    team and a break-glass reader see it, the patient once it is released, billing never."""
    if access.view in (EncounterView.CLINICAL, EncounterView.BREAK_GLASS):
        return True
    return access.view == EncounterView.PATIENT and encounter.note_released


def encounter_access_audit(
    *,
    actor: Actor,
    encounter: Encounter,
    access: EncounterAccess,
    operation: str = "read",
    break_glass_reason="",
    note_shown: bool = False,
) -> None:
    """One audit event for one read (or refusal) of an encounter; a break-glass read also alerts."""
    alias = encounter._state.db
    detail = {"reason": access.reason, "view": access.view or ""}
    if note_shown:
        detail["note_shown"] = True
    break_glass = access.view == EncounterView.BREAK_GLASS
    if break_glass:
        stated, _ = phi_redact(break_glass_reason.strip()[:BREAK_GLASS_REASON_MAX])
        detail["break_glass_reason"] = stated
    audit_access_record(
        using=alias,
        patient_id=encounter.patient_id,
        action=AuditAction.ENCOUNTER_BREAK_GLASS_READ if break_glass else AuditAction.ENCOUNTER_READ,
        resource_type=ResourceType.ENCOUNTER,
        resource_id=encounter.id,
        actor=actor,
        purpose=access.purpose or "none",
        outcome=AuditOutcome.SUCCESS if access.visible else AuditOutcome.DENIED,
        detail=detail,
    )
    if not access.visible:
        logger.warning("encounter_access_denied", encounter_id=str(encounter.id), operation=operation)
    if break_glass:
        logger.warning("encounter_break_glass_read", encounter_id=str(encounter.id), operation=operation)
        alert_event_record(
            name=BREAK_GLASS_ALERT,
            severity="ticket",
            status="firing",
            labels={"actor_user_id": str(actor.user_id), "shard_id": alias},
            annotations={
                "summary": "A clinician outside the care team read an encounter by break-glass; review it.",
                "encounter_id": str(encounter.id),
                "runbook": "docs/access-policy.md#break-glass",
            },
        )


def encounter_list_audit(*, actor: Actor, encounters: list[Encounter], purpose: str = "", page: int = 1) -> None:
    """One audit event per shown page (per shard it spans: an event lives on its patients' shard),
    naming the patients on it; the purpose defaults to the reader's role's (``ENCOUNTER_ROLE_PURPOSE``).
    An empty page shows no PHI and writes nothing."""
    audit_page_record(
        rows=encounters,
        action=AuditAction.ENCOUNTER_LISTED,
        resource_type=ResourceType.ENCOUNTER,
        actor=actor,
        purpose=purpose or ENCOUNTER_ROLE_PURPOSE.get(actor.role, "none"),
        page=page,
    )
