from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from .ids import BUCKET_COUNT, bucket_of, new_id, random_bucket


class Placement(models.TextChoices):
    CATALOG = "catalog", "Catalog database"
    SHARD = "shard", "Patient's shard"
    AUDIT = "audit", "Audit store"


class ShardedModel(models.Model):
    """A row owned by a patient: its id carries the patient's bucket, so it lives on their shard.

    ``shard_key_field`` names the FK (or id field) whose id supplies the bucket; ``None`` means
    the row is a root (a patient) and gets a fresh bucket.
    """

    pimlab_placement = Placement.SHARD
    shard_key_field: str | None = None

    id = models.BigIntegerField(primary_key=True, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.assign_id()
        super().save(*args, **kwargs)

    def assign_id(self, bucket: int | None = None) -> int:
        if self.id is None:
            if bucket is None:
                bucket = self.bucket_from_shard_key()
            self.id = new_id(random_bucket() if bucket is None else bucket)
        return self.id

    def bucket_from_shard_key(self) -> int | None:
        if self.shard_key_field is None:
            return None
        key = getattr(self, f"{self.shard_key_field}_id", None) or getattr(self, self.shard_key_field, None)
        if key is None:
            raise ValueError(f"{type(self).__name__} needs {self.shard_key_field} before it can get an id")
        return bucket_of(key)


class ShardMapEntry(models.Model):
    """Maps an inclusive range of logical buckets to a physical shard alias."""

    bucket_start = models.PositiveIntegerField()
    bucket_end = models.PositiveIntegerField(help_text="Inclusive.")
    shard_alias = models.CharField(max_length=64, help_text="A database alias such as shard_0.")
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Who moved which buckets when: the shard map decides where every patient's data is read.
    history = HistoricalRecords()

    class Meta:
        ordering = ["bucket_start"]
        verbose_name = "shard map entry"
        verbose_name_plural = "shard map"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(bucket_end__gte=models.F("bucket_start")), name="shard_map_range_ordered"
            ),
            models.CheckConstraint(condition=models.Q(bucket_end__lt=BUCKET_COUNT), name="shard_map_range_in_bounds"),
        ]

    def __str__(self) -> str:
        return f"buckets {self.bucket_start}–{self.bucket_end} → {self.shard_alias}"

    def clean(self):
        if self.shard_alias not in settings.SHARD_ALIASES:
            raise ValidationError(
                {"shard_alias": f"Unknown shard; configured shards: {', '.join(settings.SHARD_ALIASES)}."}
            )
        if self.bucket_end is not None and self.bucket_start is not None and self.bucket_end < self.bucket_start:
            raise ValidationError({"bucket_end": "bucket_end must be >= bucket_start."})
        overlapping = ShardMapEntry.objects.filter(
            bucket_start__lte=self.bucket_end, bucket_end__gte=self.bucket_start
        ).exclude(pk=self.pk)
        if overlapping.exists():
            raise ValidationError(f"Range overlaps {overlapping.first()}.")


class PersonaRole(models.TextChoices):
    PATIENT = "patient", "Patient"
    CLINICIAN = "clinician", "Clinician"
    BILLING_ADMIN = "billing_admin", "Billing admin"
    SRE = "sre", "SRE"
    OPERATOR = "operator", "Operator"


class Persona(models.Model):
    """The lab role of a user. A patient persona is linked to exactly one patient record."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="persona")
    role = models.CharField(max_length=20, choices=PersonaRole.choices, db_index=True)
    # Cross-database reference: the patient row lives on a shard, its id names the shard.
    patient_id = models.BigIntegerField(null=True, blank=True, unique=True)
    display_name = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["role", "display_name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role=PersonaRole.PATIENT, patient_id__isnull=False)
                | ~models.Q(role=PersonaRole.PATIENT),
                name="patient_persona_has_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.get_role_display()})"
