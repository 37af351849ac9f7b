from __future__ import annotations

from django.db import models

from apps.core.history import sharded_history
from apps.core.models import ShardedModel


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Patient(ShardedModel):
    """A synthetic patient: the root of everything stored on its shard."""

    mrn = models.CharField("medical record number", max_length=20, unique=True)
    given_name = models.CharField(max_length=80)
    family_name = models.CharField(max_length=80)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = sharded_history()

    class Meta:
        ordering = ["family_name", "given_name"]

    def __str__(self) -> str:
        return f"{self.mrn}"


class CareTeamMember(ShardedModel):
    """A clinician on a patient's care team: the basis of row-level access to the patient's data."""

    shard_key_field = "patient"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="care_team")
    # Cross-database reference to the clinician's user in the catalog.
    clinician_user_id = models.BigIntegerField(db_index=True)
    assigned_at = models.DateTimeField(auto_now_add=True)

    # Who could read the patient's notes, and since when: every change is kept.
    history = sharded_history()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "clinician_user_id"], name="care_team_member_once"),
        ]

    def __str__(self) -> str:
        return f"clinician {self.clinician_user_id} → patient {self.patient_id}"
