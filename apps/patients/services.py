"""Writes of patients and their care teams.

Care-team membership decides who may read a patient's notes, so every change of it is audited
(``care_team_member.added`` / ``.removed``) and kept in its simple-history table, in the same
transaction on the patient's shard."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import structlog
from django.db import transaction

from apps.audits.vocabulary import AuditAction, ResourceType
from apps.core.actors import Actor
from apps.core.ids import random_bucket
from apps.core.resolver import shard_for_bucket, shard_for_id
from apps.outbox.changes import change_record

from .errors import CareTeamMemberNotFound, PatientNotFound
from .models import CareTeamMember, Patient, Sex

logger = structlog.get_logger(__name__)


def patient_create(
    *,
    mrn: str,
    given_name: str,
    family_name: str,
    birth_date: datetime.date | str,
    sex: str = Sex.UNKNOWN,
    phone: str = "",
    email: str = "",
    bucket: int | None = None,
) -> Patient:
    """Create a patient on the shard its logical bucket maps to (a random bucket when none is given).

    Joins the caller's transaction on that shard when there is one (batch seeding), else runs in
    its own; simple-history records the creation."""
    patient = Patient(
        mrn=mrn,
        given_name=given_name,
        family_name=family_name,
        birth_date=birth_date,
        sex=sex,
        phone=phone,
        email=email,
    )
    bucket = random_bucket() if bucket is None else bucket
    patient.assign_id(bucket)
    alias = shard_for_bucket(bucket)
    with transaction.atomic(using=alias):
        patient.save(using=alias, force_insert=True)
    return patient


@dataclass(frozen=True)
class _HistoryUser:
    """What simple-history reads the acting user from (the user lives in the catalog)."""

    pk: int | None


@dataclass(frozen=True)
class CareTeamChange:
    member: CareTeamMember
    changed: bool


def care_team_member_add(*, actor: Actor, patient_id: int, clinician_user_id: int, reason: str = "") -> CareTeamChange:
    """Put a clinician on the patient's care team. Adding a member twice changes nothing (and
    records nothing). Joins the caller's transaction on the patient's shard when there is one."""
    alias = shard_for_id(patient_id)
    with transaction.atomic(using=alias):
        member = _membership_locked(alias=alias, patient_id=patient_id, clinician_user_id=clinician_user_id)
        if member is not None:
            return CareTeamChange(member=member, changed=False)
        member = CareTeamMember(patient_id=patient_id, clinician_user_id=clinician_user_id)
        _membership_change(member, actor=actor, reason=reason, action=AuditAction.CARE_TEAM_MEMBER_ADDED)
    return CareTeamChange(member=member, changed=True)


def care_team_member_remove(
    *, actor: Actor, patient_id: int, clinician_user_id: int, reason: str = ""
) -> CareTeamChange:
    """Take a clinician off the patient's care team; they lose access to the patient's notes at commit."""
    alias = shard_for_id(patient_id)
    with transaction.atomic(using=alias):
        member = _membership_locked(alias=alias, patient_id=patient_id, clinician_user_id=clinician_user_id)
        if member is None:
            raise CareTeamMemberNotFound(
                detail=f"Clinician {clinician_user_id} is not on patient {patient_id}'s care team."
            )
        _membership_change(member, actor=actor, reason=reason, action=AuditAction.CARE_TEAM_MEMBER_REMOVED)
    return CareTeamChange(member=member, changed=True)


def _membership_locked(*, alias: str, patient_id: int, clinician_user_id: int) -> CareTeamMember | None:
    # The patient row lock orders concurrent changes of one care team.
    if not Patient.objects.using(alias).select_for_update().filter(pk=patient_id).exists():
        raise PatientNotFound(detail=f"No patient {patient_id}.")
    return (
        CareTeamMember.objects.using(alias).filter(patient_id=patient_id, clinician_user_id=clinician_user_id).first()
    )


def _membership_change(member: CareTeamMember, *, actor: Actor, reason: str, action: AuditAction) -> None:
    """Save or delete the membership (simple-history writes its row) and record the audit event."""
    alias = shard_for_id(member.patient_id)
    added = action == AuditAction.CARE_TEAM_MEMBER_ADDED
    member._history_user = _HistoryUser(actor.user_id)
    member._change_reason = (reason or f"care team member {'added' if added else 'removed'}")[:100]
    if added:
        member.save(using=alias)
    else:
        member_id = member.pk
        member.delete(using=alias)
        member.pk = member_id  # delete() clears it; callers and the audit trail still name the row
    change_record(
        using=alias,
        actor=actor,
        patient_id=member.patient_id,
        action=action,
        resource_type=ResourceType.CARE_TEAM_MEMBER,
        resource_id=member.pk,
        detail={"clinician_user_id": str(member.clinician_user_id), **({"reason": reason} if reason else {})},
    )
    logger.info(action.value.replace(".", "_"), patient_id=str(member.patient_id), member_id=str(member.pk))
