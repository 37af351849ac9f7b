from __future__ import annotations

import uuid

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


class IdempotencyKey(models.Model):
    """The lab-wide registry of Idempotency-Keys: one row per (caller, key), whatever shard the
    request wrote to (docs/ADR/ADR-013-idempotency-key-registry.md).

    The row lives in the catalog, so a key used for a patient on one shard cannot be used again for
    a patient on another, a shard remap does not leave the key behind, and archiving or purging the
    resource it created does not free the key. ``apps.core.idempotency`` is the only writer."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # "user:<id>" for a persona, "system:<name>" for a system actor.
    caller = models.CharField(max_length=80)
    key = models.CharField(max_length=128)
    # The use case that first took the key, e.g. "encounter.book" or "claim.submit".
    scope = models.CharField(max_length=40)
    request_fingerprint = models.CharField(max_length=64, help_text="sha256 of the canonical request.")
    # Where the first request wrote, when it wrote: the shard at that time (a remap may move it since).
    shard_alias = models.CharField(max_length=64, blank=True)
    resource_type = models.CharField(max_length=40, blank=True)
    # Cross-database reference: the id names the shard that holds the resource today.
    resource_id = models.BigIntegerField(null=True, blank=True)
    # The first answer's representation (ids, codes, amounts; never free text), to replay it when the
    # resource itself has been archived or purged.
    response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "idempotency key"
        constraints = [models.UniqueConstraint(fields=["caller", "key"], name="idempotency_key_once_per_caller")]
        indexes = [models.Index(fields=["resource_type", "resource_id"], name="idempotency_key_resource")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} by {self.caller}"
