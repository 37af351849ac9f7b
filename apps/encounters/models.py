from __future__ import annotations

from django.db import models

from apps.core.history import sharded_history
from apps.core.models import ShardedModel
from apps.patients.models import Patient


class EncounterType(models.TextChoices):
    IN_PERSON = "in_person", "In-person visit"
    TELEHEALTH = "telehealth", "Telehealth visit"
    FOLLOW_UP = "follow_up", "Follow-up"
    URGENT = "urgent", "Urgent care"


class EncounterStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    IN_PROGRESS = "in_progress", "In progress"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"


class NoteStatus(models.TextChoices):
    EMPTY = "empty", "No note yet"
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"


class Encounter(ShardedModel):
    shard_key_field = "patient"

    # Indexed by encounter_patient_start_idx (patient, requested start), which also serves lookups by patient.
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="encounters", db_index=False)
    encounter_type = models.CharField(max_length=20, choices=EncounterType.choices)
    reason = models.CharField(max_length=500)
    requested_start = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=EncounterStatus.choices, default=EncounterStatus.BOOKED, db_index=True
    )
    # Cross-database references to catalog users.
    booked_by_user_id = models.BigIntegerField()
    # Indexed by encounter_clin_status_idx (clinician, status, requested start).
    clinician_user_id = models.BigIntegerField(null=True, blank=True)
    # Idempotency: one encounter per (booking user, key); the unique constraint, not a
    # check-then-insert, is what makes concurrent retries safe.
    idempotency_key = models.CharField(max_length=128)
    request_fingerprint = models.CharField(max_length=64)

    note_text = models.TextField(blank=True)
    note_status = models.CharField(max_length=10, choices=NoteStatus.choices, default=NoteStatus.EMPTY)
    note_version = models.PositiveIntegerField(default=0)
    note_released = models.BooleanField(default=False, help_text="Released notes are visible to the patient.")
    note_amendment_reason = models.CharField(max_length=500, blank=True)
    note_updated_by_user_id = models.BigIntegerField(null=True, blank=True)
    note_updated_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = sharded_history()

    class Meta:
        ordering = ["-requested_start"]
        # The list pages read index ranges, never the whole table: a patient's visits by start,
        # a clinician's assigned visits by status and start (the worklist), finished visits by
        # start (ready to bill, the billing list).
        indexes = [
            models.Index(fields=["patient", "requested_start"], name="encounter_patient_start_idx"),
            models.Index(fields=["clinician_user_id", "status", "requested_start"], name="encounter_clin_status_idx"),
            models.Index(
                fields=["requested_start", "id"],
                name="encounter_finished_idx",
                condition=models.Q(status="finished"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["booked_by_user_id", "idempotency_key"], name="encounter_idempotency_key_once"
            ),
        ]

    def __str__(self) -> str:
        return f"encounter {self.id}"


# --- Clinical notes: glossary ------------------------------------------------------------------
class GlossaryAction(models.TextChoices):
    NORMALISE = "normalise", "Normalise to the canonical term"
    FLAG = "flag", "Keep, but flag with guidance"


class GlossaryCategory(models.TextChoices):
    ABBREVIATION = "abbreviation", "Abbreviation"
    SYNONYM = "synonym", "Synonym / lay term"
    DO_NOT_USE = "do_not_use", "Do-not-use abbreviation"


class GlossaryTerm(models.Model):
    """One entry of the clinical glossary (seed FR-16.4), loaded from ``data/clinical_glossary.yaml``.

    Reference data in the catalog, editable in the admin; the note validator normalises or flags
    every active term it finds in a note.
    """

    term = models.CharField(max_length=80, unique=True, help_text="The text as clinicians write it.")
    canonical = models.CharField(max_length=200, help_text="The preferred term (or the advice, for flags).")
    action = models.CharField(max_length=10, choices=GlossaryAction.choices, default=GlossaryAction.NORMALISE)
    category = models.CharField(max_length=20, choices=GlossaryCategory.choices, default=GlossaryCategory.ABBREVIATION)
    case_sensitive = models.BooleanField(
        default=True, help_text="Match only this exact capitalisation (keeps 'MS' apart from 'ms')."
    )
    guidance = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True, db_index=True)
    from_data_file = models.BooleanField(default=False, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["term"]

    def __str__(self) -> str:
        return f"{self.term} → {self.canonical}"


# --- end clinical notes: glossary --------------------------------------------------------------
