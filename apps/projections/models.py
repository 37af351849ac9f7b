"""Read models of the financial dashboard, in the catalog.

Facts (one row per encounter and per claim) merge every event about their entity regardless of the
order events arrive in; the daily aggregate is maintained from fact changes, so it depends only on
the final facts. That is what makes the incremental path and a full rebuild agree."""

from __future__ import annotations

from django.db import models


class ProcessedEvent(models.Model):
    """Event ids already applied: redelivery (at-least-once) never double-applies."""

    event_id = models.CharField(max_length=64, primary_key=True)
    event_type = models.CharField(max_length=80)
    occurred_at = models.DateTimeField()
    applied_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-applied_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class EncounterFact(models.Model):
    encounter_id = models.BigIntegerField(primary_key=True)
    patient_id = models.BigIntegerField(db_index=True)
    encounter_type = models.CharField(max_length=20)
    requested_start = models.DateTimeField()
    booked_at = models.DateTimeField(help_text="Commit time of EncounterCreated.")
    booked_day = models.DateField(db_index=True)

    class Meta:
        ordering = ["-booked_at"]

    def __str__(self) -> str:
        return f"encounter {self.encounter_id}"


class ClaimFactStatus(models.TextChoices):
    SUBMITTED = "submitted", "Open (submitted)"
    PAID = "paid", "Paid"


class ClaimFact(models.Model):
    """Everything known about one claim. Fields stay null until the event carrying them is applied."""

    claim_id = models.BigIntegerField(primary_key=True)
    encounter_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    payer_code = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=12, choices=ClaimFactStatus.choices, default=ClaimFactStatus.SUBMITTED)
    currency = models.CharField(max_length=3, blank=True)
    total_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    paid_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_day = models.DateField(null=True, blank=True, db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    encounter_start = models.DateTimeField(null=True, blank=True)
    submission_lag_seconds = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]

    def __str__(self) -> str:
        return f"claim {self.claim_id} ({self.status})"


class FinancialDailyAggregate(models.Model):
    """Claims and totals per submission day, payer and status (open vs paid)."""

    day = models.DateField()
    payer_code = models.CharField(max_length=40)
    status = models.CharField(max_length=12, choices=ClaimFactStatus.choices)
    claim_count = models.PositiveIntegerField(default=0)
    total_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    paid_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    # Submission lag from encounter start to claim, summed over the claims whose encounter is known.
    lag_seconds_sum = models.BigIntegerField(default=0)
    lag_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day", "payer_code", "status"]
        constraints = [
            models.UniqueConstraint(fields=["day", "payer_code", "status"], name="financial_daily_key_once"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.payer_code} {self.status}: {self.claim_count}"


class ProjectionCheckpoint(models.Model):
    """Progress of one projection: what was applied last, and whether its backlog alert fires."""

    name = models.CharField(max_length=40, primary_key=True)
    events_applied = models.BigIntegerField(default=0)
    last_event_id = models.CharField(max_length=64, blank=True)
    last_event_occurred_at = models.DateTimeField(null=True, blank=True)
    last_applied_at = models.DateTimeField(null=True, blank=True)
    last_rebuilt_at = models.DateTimeField(null=True, blank=True)
    backlog_alert_firing = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.name
