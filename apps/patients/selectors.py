"""Reads of patients and their care teams."""

from __future__ import annotations

from apps.core.resolver import shard_for_id

from .models import CareTeamMember, Patient


def patient_get(*, patient_id: int) -> Patient | None:
    return Patient.objects.using(shard_for_id(patient_id)).filter(pk=patient_id).first()


def care_team_member_get(*, patient_id: int, clinician_user_id: int) -> CareTeamMember | None:
    return (
        CareTeamMember.objects.using(shard_for_id(patient_id))
        .filter(patient_id=patient_id, clinician_user_id=clinician_user_id)
        .first()
    )


def care_team_clinician_ids(*, patient_id: int) -> list[int]:
    return list(
        CareTeamMember.objects.using(shard_for_id(patient_id))
        .filter(patient_id=patient_id)
        .order_by("clinician_user_id")
        .values_list("clinician_user_id", flat=True)
    )
