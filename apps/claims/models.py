from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from apps.core.history import sharded_history
from apps.core.models import ShardedModel
from apps.encounters.models import Encounter
from apps.patients.models import Patient

# --- Reference data and policies (catalog) -------------------------------------------------------


def retention_floor_days(retention_class: str) -> int:
    """The fewest days after submission a claim of ``retention_class`` must be kept
    (``PIMLAB_RETENTION_FLOOR_DAYS``: ``"2190"`` for all classes, ``"2190,government=3650"`` per class)."""
    default, per_class = 0, {}
    for part in str(settings.PIMLAB_RETENTION_FLOOR_DAYS).split(","):
        name, _, value = part.strip().rpartition("=")
        if not value:
            continue
        if name:
            per_class[name.strip()] = int(value)
        else:
            default = int(value)
    return per_class.get(retention_class, default)


class RetentionPolicy(models.Model):
    """How long a claim stays in the active table, and when its archived copy may be purged."""

    retention_class = models.SlugField(max_length=40, primary_key=True)
    active_days = models.PositiveIntegerField(help_text="Days after submission before the claim is archived.")
    retention_days = models.PositiveIntegerField(help_text="Days after submission before the archived copy is purged.")
    description = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Who changed a class's windows, when and why: a policy change reaches already-archived claims.
    history = HistoricalRecords()

    class Meta:
        ordering = ["retention_class"]
        verbose_name_plural = "retention policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(retention_days__gte=models.F("active_days")), name="retention_outlives_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.retention_class} ({self.active_days}d active, {self.retention_days}d kept)"

    def clean(self) -> None:
        super().clean()
        floor = retention_floor_days(self.retention_class)
        errors = {}
        if self.retention_days is not None and self.retention_days < floor:
            errors["retention_days"] = (
                f"{self.retention_days} days is below the retention floor of {floor} days for "
                f"{self.retention_class!r} claims (PIMLAB_RETENTION_FLOOR_DAYS); keep at least {floor} days."
            )
        if self.active_days is not None and self.retention_days is not None and self.active_days > self.retention_days:
            errors["active_days"] = "The active window cannot outlast the retention period."
        if errors:
            raise ValidationError(errors)

    @property
    def effective_retention_days(self) -> int:
        """Retention the sweep applies: never below the floor, even for a row edited past validation."""
        return max(self.retention_days, retention_floor_days(self.retention_class))


class Payer(models.Model):
    code = models.CharField(max_length=40, primary_key=True)
    name = models.CharField(max_length=120)
    retention_class = models.ForeignKey(RetentionPolicy, on_delete=models.PROTECT, related_name="payers")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class AmountCeiling(models.Model):
    """Guardrail: the largest claim total a persona role may submit. A role without a row may submit none."""

    role = models.CharField(max_length=20, unique=True)
    max_claim_total = models.DecimalField(max_digits=12, decimal_places=2)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["role"]

    def __str__(self) -> str:
        return f"{self.role} ≤ {self.max_claim_total}"


class StaffPatientRecord(models.Model):
    """A staff user's own patient record (conflict of interest: nobody bills their own care)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="own_patient_record")
    # Cross-database reference: the patient lives on a shard.
    patient_id = models.BigIntegerField(db_index=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "staff member's own patient record"

    def __str__(self) -> str:
        return f"user {self.user_id} is patient {self.patient_id}"


# --- Claims (on the patient's shard) --------------------------------------------------------------


class ClaimStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted (open)"
    PAID = "paid", "Paid"


class Claim(ShardedModel):
    shard_key_field = "patient"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="claims")
    # One claim per encounter: the duplicate-claim guardrail's backstop under concurrency.
    encounter = models.OneToOneField(Encounter, on_delete=models.PROTECT, related_name="claim")
    payer_code = models.CharField(max_length=40, db_index=True)
    status = models.CharField(max_length=12, choices=ClaimStatus.choices, default=ClaimStatus.SUBMITTED)
    currency = models.CharField(max_length=3, default="USD")
    total_amount = models.DecimalField(max_digits=12, decimal_places=2)
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    retention_class = models.SlugField(max_length=40)
    submitted_by_user_id = models.BigIntegerField(db_index=True)
    idempotency_key = models.CharField(max_length=128)
    request_fingerprint = models.CharField(max_length=64)
    trace_id = models.CharField(max_length=32, blank=True)
    # Indexed by claim_submitted_id_idx (submitted at, id).
    submitted_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)

    history = sharded_history()

    class Meta:
        ordering = ["-submitted_at"]
        # The claims list pages newest first with the id as tie-breaker, read backwards from here.
        indexes = [models.Index(fields=["submitted_at", "id"], name="claim_submitted_id_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["submitted_by_user_id", "idempotency_key"], name="claim_idempotency_key_once"
            ),
        ]

    def __str__(self) -> str:
        return f"claim {self.id}"


class ClaimLineItem(ShardedModel):
    # The claim's id carries the patient's bucket, so line items sit beside their claim.
    shard_key_field = "claim"

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="line_items")
    sequence = models.PositiveSmallIntegerField()
    procedure_code = models.CharField(max_length=5)
    diagnosis_codes = models.JSONField(default=list)
    units = models.PositiveSmallIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    line_total = models.DecimalField(max_digits=12, decimal_places=2)

    history = sharded_history()

    class Meta:
        ordering = ["claim", "sequence"]
        constraints = [models.UniqueConstraint(fields=["claim", "sequence"], name="claim_line_sequence_once")]

    def __str__(self) -> str:
        return f"claim {self.claim_id} line {self.sequence}"


class ClaimPayment(ShardedModel):
    """One remittance recorded against a claim. Its idempotency key is unique per claim, so a
    retried payment is answered from this row instead of being counted twice."""

    shard_key_field = "claim"

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    balance_after = models.DecimalField(max_digits=12, decimal_places=2)
    idempotency_key = models.CharField(max_length=128)
    recorded_by_user_id = models.BigIntegerField()
    recorded_at = models.DateTimeField()

    history = sharded_history()

    class Meta:
        ordering = ["claim", "recorded_at"]
        constraints = [
            models.UniqueConstraint(fields=["claim", "idempotency_key"], name="claim_payment_idempotency_key_once"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="claim_payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"payment {self.idempotency_key} on claim {self.claim_id}"


class ArchivedClaim(ShardedModel):
    """A claim past its active window: a self-contained copy (line items inline) kept until purge."""

    shard_key_field = "patient_id"

    # The original claim id, so operators can look an archived claim up by the id they know.
    claim_id = models.BigIntegerField(unique=True)
    patient_id = models.BigIntegerField(db_index=True)
    encounter_id = models.BigIntegerField(db_index=True)
    payer_code = models.CharField(max_length=40)
    status = models.CharField(max_length=12, choices=ClaimStatus.choices)
    currency = models.CharField(max_length=3)
    total_amount = models.DecimalField(max_digits=12, decimal_places=2)
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    retention_class = models.SlugField(max_length=40)
    submitted_by_user_id = models.BigIntegerField()
    submitted_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    line_items = models.JSONField(default=list)
    archived_at = models.DateTimeField()
    # The purge date under the policy at archive time, for display; the sweep decides from the
    # current policy (submitted_at + its retention_days), so a longer policy protects old archives.
    purge_after = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["purge_after"]

    def __str__(self) -> str:
        return f"archived claim {self.claim_id}"


class LegalHold(ShardedModel):
    """A litigation hold on one claim (active or archived): while it exists the claim is neither
    archived nor purged. Placing and releasing are audited; release deletes the row."""

    shard_key_field = "patient_id"

    claim_id = models.BigIntegerField(unique=True)
    patient_id = models.BigIntegerField(db_index=True)
    reason = models.CharField(max_length=300)
    placed_by_user_id = models.BigIntegerField(null=True, blank=True)
    placed_at = models.DateTimeField()

    class Meta:
        ordering = ["-placed_at"]

    def __str__(self) -> str:
        return f"legal hold on claim {self.claim_id}"
