"""Refusals of the patient services."""

from __future__ import annotations

from apps.core.errors import NotFound


class PatientNotFound(NotFound):
    code = "patient_not_found"
    title = "Patient not found"
    remediation = "Check the patient id; patients are listed in the admin (Patients → Patients)."


class CareTeamMemberNotFound(NotFound):
    code = "care_team_member_not_found"
    title = "Not on the care team"
    remediation = "The clinician is not on this patient's care team: nothing to remove."
