"""One vocabulary for AUDIT_EVENTs: ``<resource>.<verb in the past tense>`` in lower case, and
resource types in lower snake case. A refused attempt keeps the action it attempted and says so
in its ``outcome`` (``claim.submitted`` + ``guardrail_violation``).

Events recorded before this vocabulary keep the names they were written with, on the shards as in
the audit store: shard events are immutable (a trigger refuses any change of their content) and
store links are hash-chained, so rewriting either would destroy the evidence they are. New events
use the names below; ``audit_action_canonical`` reads an old name as its new one.
"""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    ENCOUNTER_BOOKED = "encounter.booked"
    ENCOUNTER_FINISHED = "encounter.finished"
    ENCOUNTER_NOTE_READ = "encounter.note.read"
    ENCOUNTER_NOTE_HISTORY_READ = "encounter.note.history_read"
    ENCOUNTER_NOTE_UPDATED = "encounter.note.updated"
    ENCOUNTER_NOTE_SIGNED = "encounter.note.signed"
    ENCOUNTER_NOTE_AMENDED = "encounter.note.amended"
    CLAIM_SUBMITTED = "claim.submitted"
    CLAIM_PAID = "claim.paid"
    CLAIM_ARCHIVED = "claim.archived"
    CLAIM_PURGED = "claim.purged"
    LEGAL_HOLD_PLACED = "legal_hold.placed"
    LEGAL_HOLD_RELEASED = "legal_hold.released"
    CARE_TEAM_MEMBER_ADDED = "care_team_member.added"
    CARE_TEAM_MEMBER_REMOVED = "care_team_member.removed"
    # Reads of PHI (HIPAA 164.312(b)): the read verb is its own past tense.
    ENCOUNTER_READ = "encounter.read"
    ENCOUNTER_BREAK_GLASS_READ = "encounter.break_glass_read"
    ENCOUNTER_LISTED = "encounter.listed"
    CLAIM_READ = "claim.read"
    CLAIM_LISTED = "claim.listed"
    CLAIM_FHIR_EXPORTED = "claim.fhir_exported"
    ADMIN_LISTED = "admin.listed"
    ADMIN_VIEWED = "admin.viewed"
    ADMIN_HISTORY_READ = "admin.history_read"
    ADMIN_CHANGED = "admin.changed"
    ADMIN_ADDED = "admin.added"
    OUTBOX_EVENT_DISCARDED = "outbox_event.discarded"


class ResourceType(StrEnum):
    PATIENT = "patient"
    ENCOUNTER = "encounter"
    ENCOUNTER_NOTE = "encounter_note"
    CLAIM = "claim"
    LEGAL_HOLD = "legal_hold"
    CARE_TEAM_MEMBER = "care_team_member"
    OUTBOX_EVENT = "outbox_event"


# Names written before the vocabulary was settled → the name they mean today.
LEGACY_ACTIONS: dict[str, AuditAction] = {
    "encounter.finish": AuditAction.ENCOUNTER_FINISHED,
    "encounter.note.history": AuditAction.ENCOUNTER_NOTE_HISTORY_READ,
    "encounter.note.update": AuditAction.ENCOUNTER_NOTE_UPDATED,
    "encounter.note.sign": AuditAction.ENCOUNTER_NOTE_SIGNED,
    "encounter.note.amend": AuditAction.ENCOUNTER_NOTE_AMENDED,
    "claim.submit": AuditAction.CLAIM_SUBMITTED,
    "claim.payment_record": AuditAction.CLAIM_PAID,
    "claim.archive": AuditAction.CLAIM_ARCHIVED,
    "claim.purge": AuditAction.CLAIM_PURGED,
}
LEGACY_RESOURCE_TYPES: dict[str, ResourceType] = {"Encounter": ResourceType.ENCOUNTER}


def audit_action_canonical(action: str) -> str:
    """The current name of a stored action (old audit-store rows keep their original text)."""
    return str(LEGACY_ACTIONS.get(action, action))


def audit_resource_type_canonical(resource_type: str) -> str:
    return str(LEGACY_RESOURCE_TYPES.get(resource_type, resource_type))
